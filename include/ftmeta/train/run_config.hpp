// ftmeta/train/run_config.hpp: TrainOptions described field by field (core/reflect.hpp): the one definition from which
// programs make their flags and --help (ftmeta_app/cli.hpp), and the run configuration checkpoints record.
#pragma once

#include <ftmeta/core/reflect.hpp>
#include <ftmeta/train/amp.hpp>
#include <ftmeta/train/fit_state.hpp>
#include <ftmeta/train/options.hpp>

#include <boost/hana/tuple.hpp>

namespace ftmeta::reflect {

/// TrainOptions' fields that are values (not the device, the process group, the log or the stop callback).
template <>
struct Fields<train::TrainOptions> {
  using T = train::TrainOptions;
  static constexpr auto get() {
    using train::Precision, train::StopMetric;
    return boost::hana::make_tuple(
        field("epochs", &T::epochs, "epochs to train (0 with fine_tune: as the policy sizes the run)", Range{0, 100000}),
        field("seed", &T::seed, "seed of the split, the shuffling, the augmentation and the head's init"),
        field("out_dir", &T::out_dir, "output folder: checkpoints, metrics.csv/.jsonl, TensorBoard scalars, plots, test.json")
            .as_flag("out"),
        field("pretrained", &T::pretrained, "load the backbone's pretrained weights (off: train from scratch)"),
        field("weights", &T::weights,
              "the backbone's initial weights: a .pth (zip or legacy), a .safetensors, or a folder holding model.safetensors "
              "and config.json (timm's: its mean, std, input size and crop_pct then preprocess)"),
        field("in_channels", &T::in_channels, "input channels", Range{1, 4}),
        field("image_size", &T::image_size, "input side", Range{0, 4096}),
        field("precision", &T::precision, "autocast of the forward pass (fp16, with loss scaling, needs CUDA)",
              {choice("fp32", Precision::fp32), choice("fp16", Precision::fp16), choice("bf16", Precision::bf16)}),
        field("channels_last", &T::channels_last, "NHWC memory format for weights and inputs"),
        field("label_smoothing", &T::label_smoothing, "label smoothing epsilon", Range{0, 0.999}),
        field("mixup_alpha", &T::mixup_alpha, "mixup with Beta(A, A) (0: off)", Range{0, 1e6}).as_flag("mixup"),
        field("cutmix_alpha", &T::cutmix_alpha, "cutmix with Beta(A, A) (0: off; with mixup, one of the two per batch)",
              Range{0, 1e6})
            .as_flag("cutmix"),
        field("ema_decay", &T::ema_decay, "an exponential moving average of the weights with this decay in (0, 1), validated "
                                           "alongside (0: none)",
              Range{0, 0.999999})
            .as_flag("ema"),
        field("early_stop", &T::early_stop, "stop after N epochs without improvement of early_stop_metric (0: never)",
              Range{0, 100000}),
        field("early_stop_metric", &T::early_stop_metric, "what early stopping watches",
              {choice("val_loss", StopMetric::val_loss), choice("val_acc", StopMetric::val_acc)}),
        field("keep_best", &T::keep_best, "keep the K best epochs as best-epochN.pt besides best.pt", Range{1, 1000}),
        field("split_hash", &T::split_hash, "hash of the class map and split"));
  }
};

}  // namespace ftmeta::reflect

namespace ftmeta::train {

/// TrainOptions as one JSON object (reflect::to_json), e.g. {"epochs": 3, "seed": 0, "out_dir": "out", ...}.
inline std::string run_config_json(const TrainOptions& t) { return reflect::to_json(t); }

}  // namespace ftmeta::train

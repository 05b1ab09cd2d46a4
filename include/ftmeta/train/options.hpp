// ftmeta/train/options.hpp: TrainOptions, the settings of a run that are runtime values (what Trainer,
// TrainerCore and fine_tune take; described field by field in train/run_config.hpp).
#pragma once

#include <ftmeta/train/amp.hpp>
#include <ftmeta/train/fit_state.hpp>

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <string>

namespace ftmeta::distributed {
class ProcessGroup;
}  // namespace ftmeta::distributed

namespace ftmeta::train {

/// Settings of a run that are runtime values.
struct TrainOptions {
  std::int64_t epochs = 2;
  torch::Device device = torch::kCPU;
  std::uint64_t seed = 0;
  std::filesystem::path out_dir;     ///< checkpoints, metrics, plots; empty: nothing written
  bool pretrained = true;            ///< load the backbone's pretrained weights
  /// The backbone's initial weights instead (.pth, .safetensors or a hub folder), loaded strictly in
  /// the constructor before anything derives from them (EMA, broadcast, cached features).
  std::filesystem::path weights;
  std::int64_t in_channels = 3;
  std::int64_t image_size = 0;       ///< recorded in checkpoints, so prediction uses the same size
  std::ostream* log = &std::cout;    ///< per-epoch lines and the progress bar; nullptr for silence
  bool progress = true;              ///< a progress bar per epoch on `log` (plain lines unless a terminal)
  Precision precision = Precision::fp32;  ///< autocast of the forward pass; fp16 needs CUDA (with loss scaling)
  bool channels_last = false;        ///< NHWC weights and inputs
  double label_smoothing = 0;        ///< ε of the soft targets
  double mixup_alpha = 0;            ///< mixup's Beta(α, α); 0: off
  double cutmix_alpha = 0;           ///< cutmix's Beta(α, α); 0: off (with mixup: one of them per batch)
  double ema_decay = 0;              ///< a weight average (WeightEma) evaluated alongside; 0: none
  std::int64_t early_stop = 0;       ///< stop after this many epochs without improvement; 0: never
  StopMetric early_stop_metric = StopMetric::val_loss;
  std::int64_t keep_best = 1;        ///< best.pt, plus best-epochN.pt of the k best when k > 1
  std::string split_hash;            ///< of the class map and split; a resumed checkpoint must match it
  std::string preprocessing;         ///< nn::Preprocessing::serialize() of the evaluation, recorded in checkpoints
  std::string run_config;            ///< the run's options as JSON (train/run_config.hpp; empty: these options), recorded in checkpoints and metrics.jsonl
  /// The data-parallel group (distributed::ProcessGroup::from_env()); null or a group of one: a
  /// single process. Every rank builds the same Trainer; rank 0's weights are broadcast, gradients
  /// averaged, metrics summed; only rank 0 writes files and prints.
  std::shared_ptr<distributed::ProcessGroup> group;
  /// Asked after each optimizer step (StopOnSignal::requested): true stops fit() there, saves
  /// out_dir/last.pt with the state to continue the epoch exactly, and throws Interrupted.
  std::function<bool()> stop_requested;
};

}  // namespace ftmeta::train

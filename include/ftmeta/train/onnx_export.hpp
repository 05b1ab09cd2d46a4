// ftmeta/train/onnx_export.hpp: export_checkpoint_onnx, a checkpoint written by the trainer as an ONNX
// file with its class map and its evaluation pipeline's preprocessing (needs target ftmeta::onnx).
#pragma once

#include <ftmeta/nn/model.hpp>
#include <ftmeta/nn/onnx.hpp>
#include <ftmeta/nn/preprocess.hpp>
#include <ftmeta/train/checkpoint.hpp>

#include <filesystem>

namespace ftmeta::train {

/// Loads `checkpoint` (written for model `Spec`) and writes it to `onnx_file` with
/// nn::export_onnx: the class names from the checkpoint, the preprocessing the checkpoint records
/// (the evaluation pipeline training used and predict uses: resize, crop, mean, std), or for a
/// checkpoint without one, `EvalPipeline`'s (`Resize<S>, CenterCrop<S>, ToTensor, Normalize<Stats>`). `options` gives the rest (opset,
/// folding); its class_names and preprocessing are replaced. Returns the checkpoint's info.
///   export_checkpoint_onnx<Net, EvalAug<64>>("out/best.pt", "model.onnx");
template <nn::ModelSpec Spec, class EvalPipeline>
CheckpointInfo export_checkpoint_onnx(const std::filesystem::path& checkpoint, const std::filesystem::path& onnx_file,
                                      nn::OnnxExportOptions options = {}, std::int64_t in_channels = 3) {
  const auto info = read_checkpoint_info(checkpoint);
  nn::Classifier<Spec> model(static_cast<std::int64_t>(info.class_names.size()), nn::ModelOptions{in_channels});
  load_checkpoint(checkpoint, *model, Spec::describe());
  model->eval();
  options.class_names = info.class_names;
  options.preprocessing = nn::onnx_preprocessing<EvalPipeline>();
  if (!info.preprocessing.empty()) {
    const auto eval = nn::Preprocessing::parse(info.preprocessing, checkpoint.string()).eval_pipeline();
    options.preprocessing.resize = eval.resize_shorter;
    options.preprocessing.crop_height = options.preprocessing.crop_width = eval.crop;
    options.preprocessing.mean = eval.mean;
    options.preprocessing.std = eval.std;
  }
  options.preprocessing.channels = in_channels;
  nn::export_onnx(model, onnx_file, options);
  return info;
}

}  // namespace ftmeta::train

// ftmeta/train/checkpoint_predictor.hpp: CheckpointPredictor, prediction from a checkpoint alone: the model rebuilt
// through the registry by the name the checkpoint records, the evaluation preprocessing it records.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/data/decode.hpp>
#include <ftmeta/nn/preprocess.hpp>
#include <ftmeta/nn/registry.hpp>
#include <ftmeta/train/checkpoint.hpp>
#include <ftmeta/train/predict.hpp>
#include <ftmeta/train/preprocessing.hpp>

#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <vector>

namespace ftmeta::train {

/// Predicts with a checkpoint and nothing else: CheckpointInfo::model (the spec's description) picks the registry's
/// entry, CheckpointInfo::preprocessing the evaluation transform (a checkpoint without one: the input side it records,
/// a centre crop of the whole resized image, the backbone descriptor's statistics, as ftmeta 0.2 evaluated).
///   ftmeta::train::CheckpointPredictor predictor("out/best.pt");
///   for (auto& p : predictor.predict_file("cat.jpg", 3)) std::cout << p.class_name << ' ' << p.probability << '\n';
/// A model type of your own joins with `ftmeta::nn::registry().add<MyNet>("mynet")` before.
class CheckpointPredictor {
 public:
  explicit CheckpointPredictor(const std::filesystem::path& checkpoint, torch::Device device = torch::kCPU,
                               const nn::ModelRegistry& models = nn::registry())
      : info_(read_checkpoint_info(checkpoint)), device_(device) {
    const auto* entry = models.described_as(info_.model);
    if (!entry) {
      std::string known;
      for (const auto& m : models.models()) known += (known.empty() ? "" : ", ") + m.name;
      throw UsageError(checkpoint.string() + ": its model '" + info_.model + "' is none of the registry's (" + known +
                       "); add its type with ftmeta::nn::registry().add<Spec>(name)");
    }
    name_ = entry->name;
    net_ = entry->make(static_cast<std::int64_t>(info_.class_names.size()), {});
    load_checkpoint(checkpoint, *net_.module, info_.model);
    net_.module->to(device_);
    net_.module->eval();
    if (!info_.preprocessing.empty()) {
      preprocessing_ = nn::Preprocessing::parse(info_.preprocessing, checkpoint.string());
    } else {
      preprocessing_ = entry->preprocessing;
      if (info_.image_size > 0) preprocessing_.input_size = info_.image_size;
      preprocessing_.crop_pct = 1;
    }
    transform_ = eval_transform_of(preprocessing_);
  }

  const CheckpointInfo& info() const { return info_; }
  const std::vector<std::string>& class_names() const { return info_.class_names; }
  /// The registry's name of the model (e.g. "resnet18").
  const std::string& model_name() const { return name_; }
  const nn::Preprocessing& preprocessing() const { return preprocessing_; }
  const transforms::EvalTransform& transform() const { return transform_; }

  void set_flip_tta(bool on) { flip_tta_ = on; }
  void set_decode(const data::DecodeOptions& options) { decode_ = options; }

  /// Class probabilities [classes] of a decoded image (8-bit gray, BGR or BGRA).
  torch::Tensor probabilities(const cv::Mat& image) {
    if (image.empty()) throw FileError("ftmeta: CheckpointPredictor::predict: the image is empty");
    auto input = transform_(image).unsqueeze(0).to(device_);
    if (flip_tta_) input = torch::cat({input, input.flip({3})});
    torch::NoGradGuard no_grad;
    return torch::softmax(net_.forward(input), 1).mean(0).cpu();
  }
  std::vector<Prediction> predict(const cv::Mat& image, std::int64_t k = 1) {
    return detail::top_predictions(probabilities(image), info_.class_names, k);
  }
  /// FileError naming the file if it cannot be read or decoded.
  std::vector<Prediction> predict_file(const std::filesystem::path& path, std::int64_t k = 1) {
    if (!std::filesystem::is_regular_file(path)) throw FileError(path.string() + ": no such file");
    return predict(data::read_image(path, decode_), k);
  }

 private:
  CheckpointInfo info_;
  torch::Device device_;
  std::string name_;
  nn::AnyClassifier net_;
  nn::Preprocessing preprocessing_;
  transforms::EvalTransform transform_;
  bool flip_tta_ = false;
  data::DecodeOptions decode_{};
};

}  // namespace ftmeta::train

// ftmeta/train/predict.hpp: Predictor, which loads a checkpoint and answers with class names.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/core/rng.hpp>
#include <ftmeta/data/decode.hpp>
#include <ftmeta/data/image_folder.hpp>
#include <ftmeta/nn/model.hpp>
#include <ftmeta/train/checkpoint.hpp>
#include <ftmeta/transforms/apply.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

namespace ftmeta::train {

/// One answer: a class name (the folder name it was trained from) and its probability.
struct Prediction {
  std::string class_name;
  std::int64_t label = 0;
  double probability = 0;
};

namespace detail {
/// The k most probable classes of `probs` [classes], most probable first, named by `names`.
inline std::vector<Prediction> top_predictions(const torch::Tensor& probs, const std::vector<std::string>& names, std::int64_t k) {
  k = std::clamp<std::int64_t>(k, 1, probs.size(0));
  auto top = probs.topk(k);
  std::vector<Prediction> out;
  for (std::int64_t i = 0; i < k; ++i) {
    const auto label = std::get<1>(top)[i].template item<std::int64_t>();
    out.push_back({names.at(static_cast<std::size_t>(label)), label, std::get<0>(top)[i].template item<double>()});
  }
  return out;
}
}  // namespace detail

/// Loads a checkpoint of model `Spec` and predicts with the evaluation pipeline `EvalPipeline`.
/// The class map comes from the checkpoint, so answers are folder names, never bare indices.
template <nn::ModelSpec Spec, class EvalPipeline>
class Predictor {
 public:
  explicit Predictor(const std::filesystem::path& checkpoint, torch::Device device = torch::kCPU, std::int64_t in_channels = 3)
      : info_(read_checkpoint_info(checkpoint)),
        model_(static_cast<std::int64_t>(info_.class_names.size()), nn::ModelOptions{in_channels}),
        device_(device) {
    load_checkpoint(checkpoint, *model_, Spec::describe());
    model_->to(device_);
    model_->eval();
  }

  const std::vector<std::string>& class_names() const { return info_.class_names; }
  const CheckpointInfo& info() const { return info_; }

  /// Test-time augmentation: also predict the horizontally flipped image and average the two.
  void set_flip_tta(bool on) { flip_tta_ = on; }
  /// How predict_file decodes (data/decode.hpp's rule; EXIF orientation ignored by default, as in
  /// training): give it the training loader's LoaderOptions::decode so both see the same pixels.
  void set_decode(const data::DecodeOptions& options) { decode_ = options; }
  const data::DecodeOptions& decode_options() const { return decode_; }

  /// Class probabilities [classes] of a decoded image (8-bit gray, BGR or BGRA, as cv::imread gives).
  torch::Tensor probabilities(const cv::Mat& image) {
    if (image.empty()) throw FileError("ftmeta: Predictor::predict: the image is empty");
    Rng rng(0);  // evaluation pipelines are deterministic; the generator is unused by them
    auto input = transforms::apply<EvalPipeline>(image, rng).unsqueeze(0).to(device_);
    if (flip_tta_) input = torch::cat({input, input.flip({3})});
    torch::NoGradGuard no_grad;
    return torch::softmax(model_->forward(input), 1).mean(0).cpu();
  }

  /// The k most probable classes of a decoded image, most probable first.
  std::vector<Prediction> predict(const cv::Mat& image, std::int64_t k = 1) {
    return detail::top_predictions(probabilities(image), info_.class_names, k);
  }

  /// Reads and predicts an image file, decoded by the loader's rule (data::decode_file); FileError
  /// naming the file if it cannot be read or decoded.
  std::vector<Prediction> predict_file(const std::filesystem::path& path, std::int64_t k = 1) {
    if (!std::filesystem::is_regular_file(path)) throw FileError(path.string() + ": no such file");
    return predict(data::read_image(path, decode_), k);
  }

 private:
  CheckpointInfo info_;
  nn::Classifier<Spec> model_;
  torch::Device device_;
  bool flip_tta_ = false;
  data::DecodeOptions decode_{};
};

/// The image files (data::has_image_extension) directly in `dir`, or anywhere below it with
/// `recursive`, in sorted order (std::filesystem::path order: folder by folder, names compared byte-wise); FileError
/// naming `dir` when it is not a readable folder.
inline std::vector<std::filesystem::path> image_files_in(const std::filesystem::path& dir, bool recursive = false) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw FileError(dir.string() + ": not a folder");
  std::vector<fs::path> out;
  auto keep = [&](const fs::directory_entry& e) {
    std::error_code fe;
    if (e.is_regular_file(fe) && data::has_image_extension(e.path())) out.push_back(e.path());
  };
  if (recursive) {
    fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec), end;
    for (; !ec && it != end; it.increment(ec)) keep(*it);
  } else {
    fs::directory_iterator it(dir, ec), end;
    for (; !ec && it != end; it.increment(ec)) keep(*it);
  }
  if (ec) throw FileError(dir.string() + ": cannot list: " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace ftmeta::train

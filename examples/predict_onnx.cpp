// examples/predict_onnx.cpp: predict without LibTorch. Runs an ONNX file that export_onnx wrote with
// OpenCV DNN, preprocessing each image as its metadata says, and prints what `predict --checkpoint`
// prints: IMAGE<TAB>CLASS_NAME<TAB>PROBABILITY. Images are decoded by the library's one decode rule
// (data/decode.hpp), as predict decodes them. Links OpenCV, libjpeg, ONNX's protobuf classes and
// ftmeta's torch-free headers only (a CTest checks that the binary needs no libtorch).
#include "prediction_output.hpp"

#include <ftmeta/core/error.hpp>
#include <ftmeta/data/decode.hpp>
#include <ftmeta/nn/onnx_metadata.hpp>
#include <ftmeta/transforms/kernels/antialias.hpp>
#include <ftmeta_app/cli.hpp>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace {

// Its own flags; --topk and --exif-orientation are predict's (example::PredictionFlags).
const std::vector<ftmeta::app::Flag> own_flags = {
    {"onnx", true, "an ONNX file written by export (or finetune --export-onnx)"},
    {"batch", true, "images per forward pass (default 1; a file exported with a fixed batch runs that many)"},
    {"threads", true, "OpenCV threads (default: OpenCV's choice, all cores)"},
    {"help", false, "print this help"},
};

// torchvision's center_crop offset along one axis (Python's round, half to even), or a negative
// offset (zero padding, the extra pixel after) when the crop is larger.
int crop_offset(int in, int crop) {
  if (crop > in) return -((crop - in) / 2);
  return static_cast<int>(std::nearbyint((in - crop) / 2.0));
}

/// The network input of one decoded BGR image, as the metadata's preprocessing says: shorter side
/// resized with the library's own kernel (PIL's antialiased bilinear, as Resize), centre crop, RGB, x / 255, (x - mean) / std.
/// Returns CHW float32 as a [1, C, H, W] blob.
cv::Mat preprocess(const cv::Mat& bgr, const ftmeta::nn::OnnxPreprocessing& p) {
  cv::Mat image = bgr;
  if (p.resize > 0) {
    const bool portrait = image.cols <= image.rows;
    const long long shorter = portrait ? image.cols : image.rows, longer = portrait ? image.rows : image.cols;
    const int new_long = static_cast<int>(static_cast<double>(p.resize * longer) / static_cast<double>(shorter));
    const cv::Size to = portrait ? cv::Size(static_cast<int>(p.resize), new_long) : cv::Size(new_long, static_cast<int>(p.resize));
    if (to != image.size()) image = ftmeta::transforms::antialias_resize(image, to.width, to.height);
  }
  const int H = static_cast<int>(p.crop_height), W = static_cast<int>(p.crop_width);
  const int y0 = crop_offset(image.rows, H), x0 = crop_offset(image.cols, W);
  cv::Mat crop(H, W, CV_8UC3, cv::Scalar::all(0));
  const cv::Rect src = cv::Rect(x0, y0, W, H) & cv::Rect(0, 0, image.cols, image.rows);
  image(src).copyTo(crop(cv::Rect(src.x - x0, src.y - y0, src.width, src.height)));
  const int dims[4] = {1, 3, H, W};
  cv::Mat blob(4, dims, CV_32F);
  for (int c = 0; c < 3; ++c) {
    const double scale = 1.0 / (255.0 * p.std[c]), bias = -p.mean[c] / p.std[c];
    float* out = blob.ptr<float>(0, c);
    for (int y = 0; y < H; ++y) {
      const auto* row = crop.ptr<cv::Vec3b>(y);
      for (int x = 0; x < W; ++x) out[y * W + x] = static_cast<float>(row[x][2 - c] * scale + bias);
    }
  }
  return blob;
}

int run(int argc, char** argv) {
  auto flags = own_flags;
  for (auto& f : ftmeta::app::flags_of(example::PredictionFlags{})) flags.push_back(f);
  ftmeta::app::Args args(argc, argv, flags);
  if (args.has("help")) {
    std::cout << "usage: predict_onnx --onnx FILE IMAGE...\n" << args.help();
    return 0;
  }
  if (!args.has("onnx")) throw ftmeta::UsageError("--onnx FILE is required");
  if (args.positional().empty()) throw ftmeta::UsageError("give at least one IMAGE");
  const std::filesystem::path file = args.get("onnx");
  example::PredictionFlags shown;
  ftmeta::app::read_flags(args, shown);
  const auto topk = shown.topk;
  auto batch = args.get_int("batch", 1, 1, 4096);
  const ftmeta::data::DecodeOptions decode{.exif_orientation = shown.exif_orientation};
  if (args.has("threads")) cv::setNumThreads(static_cast<int>(args.get_int("threads", 1, 1, 1024)));

  const auto info = ftmeta::nn::read_onnx_info(file);
  if (info.preprocessing.channels != 3)
    throw ftmeta::FileError(file.string() + ": the model takes " + std::to_string(info.preprocessing.channels) +
                            " channels; predict_onnx feeds RGB (3)");
  cv::dnn::Net net;
  try {
    net = cv::dnn::readNetFromONNX(file.string());
  } catch (const cv::Exception& e) {
    throw ftmeta::FileError(file.string() + ": OpenCV DNN cannot load it: " + e.err);
  }
  const auto classes = static_cast<int>(info.class_names.size());
  // A file exported with a fixed batch (OnnxExportOptions::batch) runs exactly that many images;
  // the last group is padded with zeros.
  const std::size_t run_batch = info.batch > 0 ? static_cast<std::size_t>(info.batch) : 0;
  if (run_batch) batch = info.batch;

  int failures = 0;
  std::vector<std::string> names;
  std::vector<cv::Mat> inputs;
  const auto flush = [&] {
    if (inputs.empty()) return;
    const int dims[4] = {static_cast<int>(std::max(inputs.size(), run_batch)), 3, static_cast<int>(info.preprocessing.crop_height),
                         static_cast<int>(info.preprocessing.crop_width)};
    cv::Mat blob(4, dims, CV_32F, cv::Scalar(0));  // the [1, C, H, W] inputs stacked along the batch
    for (std::size_t i = 0; i < inputs.size(); ++i)
      std::copy_n(inputs[i].ptr<float>(), inputs[i].total(), blob.ptr<float>(static_cast<int>(i)));
    net.setInput(blob);
    cv::Mat logits = net.forward();
    const std::size_t rows = static_cast<std::size_t>(dims[0]);
    if (logits.total() != rows * static_cast<std::size_t>(classes))
      throw ftmeta::FileError(file.string() + ": the model gives " + std::to_string(logits.total() / rows) +
                              " outputs per image, its metadata names " + std::to_string(classes) + " classes");
    for (std::size_t i = 0; i < inputs.size(); ++i)
      example::print_predictions(std::cout, names[i],
                                 example::top_k(logits.ptr<float>() + i * static_cast<std::size_t>(classes), info.class_names, topk));
    names.clear();
    inputs.clear();
  };
  for (const auto& image : args.positional()) {
    cv::Mat decoded;
    try {
      decoded = ftmeta::data::read_image(image, decode);  // predict's decode rule: the same pixels
    } catch (const ftmeta::FileError& e) {
      flush();  // keep the output in the order of the arguments
      example::print_image_error(std::cout, image, e.what());
      ++failures;
      continue;
    }
    names.push_back(image);
    inputs.push_back(preprocess(decoded, info.preprocessing));
    if (static_cast<std::int64_t>(inputs.size()) == batch) flush();
  }
  flush();
  return example::finish_predictions("predict_onnx", failures);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const ftmeta::UsageError& e) {
    std::cerr << "predict_onnx: " << e.what() << std::endl;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "predict_onnx: " << e.what() << std::endl;
    return 1;
  }
}

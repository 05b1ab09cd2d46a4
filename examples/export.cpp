// examples/export.cpp: writes a checkpoint that finetune wrote (best.pt) as an ONNX file, with its
// class names and preprocessing in the file's metadata, for examples/predict_onnx or any ONNX runtime.
#include "recipe.hpp"

#include <ftmeta/train/onnx_export.hpp>

#include <iostream>

namespace {

const std::vector<ftmeta::util::Flag> flags = {
    {"checkpoint", true, "a checkpoint written by finetune (best.pt or last.pt)"},
    {"onnx", true, "the ONNX file to write"},
    {"opset", true, "ONNX opset (default 17)"},
    {"keep-batch-norm", false, "keep BatchNormalization nodes instead of folding them into the convolutions"},
    {"clip-relu6", false, "ReLU6 as one Clip node (OpenCV 4.6 cannot read it; the default form runs everywhere)"},
    {"batch", true, "fix the batch axis at N images (default: dynamic; OpenCV 4.6 needs it for MobileNetV3 and EfficientNet-B0)"},
    {"help", false, "print this help"},
};

int run(int argc, char** argv) {
  ftmeta::util::Args args(argc, argv, flags);
  if (args.has("help")) {
    std::cout << "usage: export --checkpoint FILE --onnx FILE\n" << args.help();
    return 0;
  }
  if (!args.has("checkpoint")) throw ftmeta::UsageError("--checkpoint FILE is required");
  if (!args.has("onnx")) throw ftmeta::UsageError("--onnx FILE is required");
  const std::filesystem::path checkpoint = args.get("checkpoint"), onnx = args.get("onnx");
  ftmeta::nn::OnnxExportOptions options;
  options.opset = args.get_int("opset", 17, 17, 1000);
  options.fold_batch_norm = !args.has("keep-batch-norm");
  options.clip_relu6 = args.has("clip-relu6");
  options.batch = args.get_int("batch", 0, 1, 4096);
  const auto info = ftmeta::train::read_checkpoint_info(checkpoint);
  return example::with_image_size(info.image_size, [&]<int Size>() { return example::with_model(info.model, [&]<class Net>() {
    // [export]
    ftmeta::train::export_checkpoint_onnx<Net, example::EvalAug<Size, typename Net::backbone>>(checkpoint, onnx, options);
    // [export]
    std::cout << "export: wrote " << onnx.string() << " (" << std::filesystem::file_size(onnx) << " bytes, "
              << info.class_names.size() << " classes, input 3x" << Size << "x" << Size << ", opset " << options.opset
              << (options.batch ? ", batch " + std::to_string(options.batch) : std::string()) << ")\n";
    return 0;
  }); });
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const ftmeta::UsageError& e) {
    std::cerr << "export: " << e.what() << std::endl;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "export: " << e.what() << std::endl;
    return 1;
  }
}

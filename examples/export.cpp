// examples/export.cpp: writes a checkpoint that finetune wrote (best.pt) as an ONNX file, with its
// class names and preprocessing in the file's metadata, for examples/predict_onnx or any ONNX runtime.
#include "recipe.hpp"

#include <ftmeta/train/onnx_export.hpp>
#include <ftmeta_app/cli.hpp>

#include <boost/hana/tuple.hpp>

#include <iostream>

namespace {

struct Flags {
  std::filesystem::path checkpoint, onnx;
  bool help = false;
  static constexpr auto fields() {
    using ftmeta::reflect::field;
    return boost::hana::make_tuple(field("checkpoint", &Flags::checkpoint, "a checkpoint written by finetune (best.pt or last.pt)"),
                                   field("onnx", &Flags::onnx, "the ONNX file to write"),
                                   field("help", &Flags::help, "print this help"));
  }
};

}  // namespace

// The export options' flags, from their fields (the class names and the preprocessing come from the checkpoint).
template <>
struct ftmeta::reflect::Fields<ftmeta::nn::OnnxExportOptions> {
  using T = ftmeta::nn::OnnxExportOptions;
  static constexpr auto get() {
    return boost::hana::make_tuple(
        field("opset", &T::opset, "ONNX opset of the default domain", Range{17, 1000}),
        field("fold_batch_norm", &T::fold_batch_norm, "fold BatchNorm into the convolutions (else BatchNormalization nodes)"),
        field("clip_relu6", &T::clip_relu6, "ReLU6 as one Clip node (OpenCV 4.6 cannot read it; the default form runs everywhere)"),
        field("batch", &T::batch,
              "fix the batch axis at N images (0: dynamic; OpenCV 4.6 needs a fixed one for MobileNetV3 and EfficientNet-B0)",
              Range{0, 4096}));
  }
};

namespace {

int run(int argc, char** argv) {
  Flags flags;
  ftmeta::nn::OnnxExportOptions options;
  auto known = ftmeta::app::flags_of(flags);
  for (auto& f : ftmeta::app::flags_of(options)) known.push_back(f);
  ftmeta::app::Args args(argc, argv, known);
  if (args.has("help")) {
    std::cout << "usage: export --checkpoint FILE --onnx FILE\n" << args.help();
    return 0;
  }
  ftmeta::app::read_flags(args, flags);
  ftmeta::app::read_flags(args, options);
  if (flags.checkpoint.empty()) throw ftmeta::UsageError("--checkpoint FILE is required");
  if (flags.onnx.empty()) throw ftmeta::UsageError("--onnx FILE is required");
  const auto& checkpoint = flags.checkpoint;
  const auto& onnx = flags.onnx;
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

// examples/predict.cpp: prints IMAGE<TAB>CLASS_NAME<TAB>PROBABILITY for each image (a folder given
// stands for its images, sorted; --recursive walks its subfolders too), with the class names
// stored in the checkpoint that finetune wrote. The checkpoint alone says which model to rebuild
// (through ftmeta's registry) and how to preprocess (the evaluation pipeline it records).
#include "prediction_output.hpp"
#include "recipe.hpp"

#include <ftmeta/train/checkpoint_predictor.hpp>
#include <ftmeta_app/cli.hpp>

#include <boost/hana/tuple.hpp>

#include <iostream>

namespace {

struct Flags {
  std::filesystem::path checkpoint;
  std::string device = "cpu";
  bool tta = false, recursive = false, help = false;
  static constexpr auto fields() {
    using ftmeta::reflect::field;
    return boost::hana::make_tuple(
        field("checkpoint", &Flags::checkpoint, "a checkpoint written by finetune (best.pt or last.pt)"),
        field("device", &Flags::device, "auto, cpu, cuda or cuda:N"),
        field("tta", &Flags::tta, "test-time augmentation: average the image and its horizontal flip"),
        field("recursive", &Flags::recursive, "a folder argument: also the images in its subfolders"),
        field("help", &Flags::help, "print this help"));
  }
};

int run(int argc, char** argv) {
  Flags flags;
  example::PredictionFlags shown;
  auto known = ftmeta::app::flags_of(flags);
  for (auto& f : ftmeta::app::flags_of(shown)) known.push_back(f);
  ftmeta::app::Args args(argc, argv, known);
  if (args.has("help")) {
    std::cout << "usage: predict --checkpoint FILE IMAGE_OR_FOLDER...\n" << args.help();
    return 0;
  }
  ftmeta::app::read_flags(args, flags);
  ftmeta::app::read_flags(args, shown);
  if (flags.checkpoint.empty()) throw ftmeta::UsageError("--checkpoint FILE is required");
  if (args.positional().empty()) throw ftmeta::UsageError("give at least one IMAGE or FOLDER");
  const auto& checkpoint = flags.checkpoint;
  const auto topk = shown.topk;
  const auto device = ftmeta::app::with_flag("device", "device", [&] { return ftmeta::train::resolve_device(flags.device); });
  // The recipes' own networks join the built-in models (--model's), so every finetune checkpoint is known.
  ftmeta::nn::registry().add<example::Net>("blog");

  // [predict]
  ftmeta::train::CheckpointPredictor predictor(checkpoint, device);
  predictor.set_flip_tta(flags.tta);
  // [predict]
  predictor.set_decode({.exif_orientation = shown.exif_orientation});
  // A folder stands for its image files (sorted; with --recursive, those of its subfolders too).
  std::vector<std::string> images;
  for (const auto& arg : args.positional()) {
    if (!std::filesystem::is_directory(arg)) {
      images.push_back(arg);
      continue;
    }
    const auto found = ftmeta::train::image_files_in(arg, flags.recursive);
    if (found.empty()) std::cerr << "predict: warning: " << arg << ": no image files" << (flags.recursive ? "" : " (subfolders need --recursive)") << std::endl;
    for (const auto& f : found) images.push_back(f.string());
  }
  if (images.empty()) throw ftmeta::FileError("no image files to predict");
  int failures = 0;
  for (const auto& image : images) {
    try {
      example::print_predictions(std::cout, image, predictor.predict_file(image, topk));
    } catch (const ftmeta::FileError& e) {
      example::print_image_error(std::cout, image, e.what());
      ++failures;
    }
  }
  return example::finish_predictions("predict", failures);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const ftmeta::UsageError& e) {
    std::cerr << "predict: " << e.what() << std::endl;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "predict: " << e.what() << std::endl;
    return 1;
  }
}

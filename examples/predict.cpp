// examples/predict.cpp: prints IMAGE<TAB>CLASS_NAME<TAB>PROBABILITY for each image (a folder given
// stands for its images, sorted; --recursive walks its subfolders too), with the class names
// stored in the checkpoint that finetune wrote.
#include "prediction_output.hpp"
#include "recipe.hpp"

#include <iostream>

namespace {

const std::vector<ftmeta::util::Flag> flags = {
    {"checkpoint", true, "a checkpoint written by finetune (best.pt or last.pt)"},
    example::topk_flag,
    {"device", true, "auto, cpu, cuda or cuda:N (default cpu)"},
    {"tta", false, "test-time augmentation: average the image and its horizontal flip"},
    {"recursive", false, "a folder argument: also the images in its subfolders"},
    example::exif_flag,
    {"help", false, "print this help"},
};

int run(int argc, char** argv) {
  ftmeta::util::Args args(argc, argv, flags);
  if (args.has("help")) {
    std::cout << "usage: predict --checkpoint FILE IMAGE_OR_FOLDER...\n" << args.help();
    return 0;
  }
  if (!args.has("checkpoint")) throw ftmeta::UsageError("--checkpoint FILE is required");
  if (args.positional().empty()) throw ftmeta::UsageError("give at least one IMAGE or FOLDER");
  const std::filesystem::path checkpoint = args.get("checkpoint");
  const auto topk = example::topk_of(args);
  const auto device = ftmeta::train::resolve_device(args.get("device", "cpu"));
  const auto info = ftmeta::train::read_checkpoint_info(checkpoint);

  return example::with_image_size(info.image_size, [&]<int Size>() { return example::with_model(info.model, [&]<class Net>() {
    // [predict]
    ftmeta::train::Predictor<Net, example::EvalAug<Size>> predictor(checkpoint, device);
    predictor.set_flip_tta(args.has("tta"));
    // [predict]
    predictor.set_decode({.exif_orientation = args.has("exif-orientation")});
    // A folder stands for its image files (sorted; with --recursive, those of its subfolders too).
    std::vector<std::string> images;
    for (const auto& arg : args.positional()) {
      if (!std::filesystem::is_directory(arg)) {
        images.push_back(arg);
        continue;
      }
      const auto found = ftmeta::train::image_files_in(arg, args.has("recursive"));
      if (found.empty()) std::cerr << "predict: warning: " << arg << ": no image files" << (args.has("recursive") ? "" : " (subfolders need --recursive)") << std::endl;
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
  }); });
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

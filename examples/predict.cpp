// examples/predict.cpp: prints IMAGE<TAB>CLASS_NAME<TAB>PROBABILITY for each image, with the class
// names stored in the checkpoint that finetune wrote.
#include "recipe.hpp"

#include <iomanip>
#include <iostream>

namespace {

const std::vector<ftmeta::util::Flag> flags = {
    {"checkpoint", true, "a checkpoint written by finetune (best.pt or last.pt)"},
    {"topk", true, "classes to print per image (default 1)"},
    {"device", true, "auto, cpu, cuda or cuda:N (default cpu)"},
    {"tta", false, "test-time augmentation: average the image and its horizontal flip"},
    {"help", false, "print this help"},
};

int run(int argc, char** argv) {
  ftmeta::util::Args args(argc, argv, flags);
  if (args.has("help")) {
    std::cout << "usage: predict --checkpoint FILE IMAGE...\n" << args.help();
    return 0;
  }
  if (!args.has("checkpoint")) throw ftmeta::UsageError("--checkpoint FILE is required");
  if (args.positional().empty()) throw ftmeta::UsageError("give at least one IMAGE");
  const std::filesystem::path checkpoint = args.get("checkpoint");
  const auto topk = args.get_int("topk", 1, 1, 1000);
  const auto device = ftmeta::train::resolve_device(args.get("device", "cpu"));
  const auto info = ftmeta::train::read_checkpoint_info(checkpoint);

  return example::with_image_size(info.image_size, [&]<int Size>() { return example::with_model(info.model, [&]<class Net>() {
    // [predict]
    ftmeta::train::Predictor<Net, example::EvalAug<Size>> predictor(checkpoint, device);
    predictor.set_flip_tta(args.has("tta"));
    // [predict]
    int failures = 0;
    for (const auto& image : args.positional()) {
      try {
        for (const auto& p : predictor.predict_file(image, topk))
          std::cout << image << '\t' << p.class_name << '\t' << std::fixed << std::setprecision(4) << p.probability << '\n';
      } catch (const ftmeta::FileError& e) {
        std::cout << image << "\terror: " << e.what() << '\n';
        ++failures;
      }
    }
    std::cout.flush();
    if (failures) std::cerr << "predict: " << failures << " image(s) could not be read" << std::endl;
    return failures ? 1 : 0;
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

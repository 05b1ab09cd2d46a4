// Tests of how the weights' preprocessing reaches the loaders (train/preprocessing.hpp,
// transforms/eval_transform.hpp, train/checkpoint_predictor.hpp): the run-time evaluation transform gives the
// compile-time Compose's bits; the training pipeline's Normalize<Backbone> moves onto the weights' statistics;
// a recipe's own Normalize wins with a warning; a checkpoint alone rebuilds the model and its preprocessing.
#include <ftmeta/train/checkpoint_predictor.hpp>
#include <ftmeta/train/default_policy.hpp>
#include <ftmeta/train/preprocessing.hpp>

#include <catch2/catch.hpp>

#include <opencv2/core.hpp>

#include <filesystem>
#include <string>

namespace unit_train_preprocessing {

using namespace ftmeta;
using namespace ftmeta::transforms;

namespace {
cv::Mat noise(int rows, int cols, int type, int seed) {
  cv::Mat m(rows, cols, type);
  cv::RNG rng(seed);
  rng.fill(m, cv::RNG::UNIFORM, 0, 256);
  return m;
}
struct Odd {
  static constexpr double mean[3] = {0.3, 0.5, 0.7};
  static constexpr double std[3] = {0.2, 0.25, 0.4};
};
struct Half {
  static constexpr double mean[3] = {0.5, 0.5, 0.5};
  static constexpr double std[3] = {0.5, 0.5, 0.5};
};
template <int S, int C, class Stats>
struct Eval : Compose<Resize<S>, CenterCrop<C>, ToTensor, Normalize<Stats>> {};

template <int S, int C, class Stats>
void same_bits(const cv::Mat& image) {
  const EvalTransform t{.resize_shorter = S, .crop = C, .mean = {Stats::mean[0], Stats::mean[1], Stats::mean[2]},
                        .std = {Stats::std[0], Stats::std[1], Stats::std[2]}};
  Rng rng(0);
  const auto want = apply<Eval<S, C, Stats>>(image, rng);
  const auto got = t(image);
  REQUIRE(got.sizes() == want.sizes());
  CHECK(torch::equal(got, want));
}
}  // namespace

TEST_CASE("EvalTransform: the bits of Compose<Resize<S>, CenterCrop<C>, ToTensor, Normalize>", "[preprocessing]") {
  for (const auto& image : {noise(28, 28, CV_8UC1, 1), noise(300, 200, CV_8UC3, 2), noise(120, 333, CV_8UC3, 3),
                            noise(50, 61, CV_8UC4, 4)}) {
    INFO(image.rows << "x" << image.cols << " with " << image.channels() << " channel(s)");
    same_bits<64, 64, ImageNet>(image);
    same_bits<67, 64, Odd>(image);
    same_bits<256, 224, ImageNet>(image);
    same_bits<73, 64, nn::backbones::EfficientNetLite0>(image);
  }
  CHECK_THROWS_WITH((EvalTransform{.resize_shorter = 0}.check()), Catch::Matchers::Contains("resize_shorter and crop"));
  CHECK_THROWS_WITH((EvalTransform{.std = {1, 0, 1}}.check()), Catch::Matchers::Contains("std[1] must be positive"));
}

TEST_CASE("preprocessing: the evaluation crop follows crop_pct", "[preprocessing]") {
  nn::Preprocessing p;
  p.input_size = 64, p.crop_pct = 0.95;
  const auto t = train::eval_transform_of(p);
  CHECK(t.resize_shorter == 67);  // floor(64 / 0.95), as timm's scale_size
  CHECK(t.crop == 64);
  CHECK(t(noise(28, 40, CV_8UC3, 5)).sizes() == torch::IntArrayRef{3, 64, 64});
}

TEST_CASE("preprocessing: a compile-time evaluation pipeline amounts to a Preprocessing", "[preprocessing]") {
  using Lite0 = nn::backbones::EfficientNetLite0;
  const auto p = train::preprocessing_of_pipeline<train::FineTuneEvaluate<64, Lite0>>();
  REQUIRE(p);
  CHECK(p->input_size == 64);
  CHECK(p->crop_pct == 1.0);
  CHECK(p->mean[0] == Lite0::mean[0]);
  CHECK(p->std[2] == Lite0::std[2]);
  // Its evaluation transform is the pipeline itself.
  const auto image = noise(90, 70, CV_8UC3, 6);
  Rng rng(0);
  CHECK(torch::equal(train::eval_transform_of(*p)(image), apply<train::FineTuneEvaluate<64, Lite0>>(image, rng)));
  // A pipeline of another shape is not described.
  CHECK_FALSE(train::preprocessing_of_pipeline<Compose<RandomResizedCrop<64>, ToTensor>>());
}

TEST_CASE("preprocessing: Normalize<Backbone> gives way to the weights' statistics, a recipe's own wins", "[preprocessing]") {
  using R18 = nn::backbones::ResNet18;
  using Train = train::FineTuneAugment<64, R18>;
  constexpr auto own = train::pipeline_normalize<Train, R18>();
  STATIC_REQUIRE(own.found);
  STATIC_REQUIRE(own.backbone_own);
  constexpr auto user = train::pipeline_normalize<Eval<64, 64, Odd>, R18>();
  STATIC_REQUIRE(user.found);
  STATIC_REQUIRE_FALSE(user.backbone_own);

  nn::Preprocessing weights;
  weights.mean = {0.5, 0.5, 0.5}, weights.std = {0.5, 0.5, 0.5}, weights.source = "config.json";
  std::string warning;
  CHECK(train::effective_preprocessing(weights, own, &warning).mean == weights.mean);
  CHECK(warning.empty());
  const auto kept = train::effective_preprocessing(weights, user, &warning);
  CHECK(kept.mean == std::array<double, 3>{0.3, 0.5, 0.7});
  CHECK_THAT(warning, Catch::Matchers::Contains("the recipe's Normalize (mean 0.3, 0.5, 0.7") &&
                          Catch::Matchers::Contains("differs from the weights' own (mean 0.5, 0.5, 0.5") &&
                          Catch::Matchers::Contains("from config.json); the recipe's is used"));

  // The training pipeline renormalized: the Compose with the weights' statistics, to float rounding.
  const train::Renormalized<Train> moved(own, weights.mean, weights.std);
  CHECK_FALSE(moved.identity);
  const auto image = noise(40, 50, CV_8UC3, 7);
  auto got = torch::empty({3, 64, 64});
  auto rng = Rng::for_sample(3, 0, 1);
  moved(image, rng, got);
  auto rng2 = Rng::for_sample(3, 0, 1);
  const auto want = apply<train::FineTuneAugment<64, Half>>(image, rng2);
  CHECK((got - want).abs().max().item<float>() < 1e-5f);
}

TEST_CASE("CheckpointPredictor: the checkpoint alone names the model and the preprocessing", "[preprocessing]") {
  const auto dir = std::filesystem::temp_directory_path() / "ftmeta_checkpoint_predictor";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto& entry = nn::registry().find("resnet18");
  auto net = entry.make(3, {});
  nn::Preprocessing p = entry.preprocessing;
  p.input_size = 64, p.crop_pct = 0.9;
  train::CheckpointInfo info;
  info.class_names = {"a", "b", "c"};
  info.model = entry.description;
  info.image_size = 64;
  info.preprocessing = p.serialize();
  train::save_checkpoint(dir / "best.pt", *net.module, info);

  train::CheckpointPredictor predictor(dir / "best.pt");
  CHECK(predictor.model_name() == "resnet18");
  CHECK(predictor.preprocessing() == p);
  CHECK(predictor.transform().resize_shorter == 71);  // floor(64 / 0.9)
  const auto image = noise(80, 100, CV_8UC3, 8);
  net.module->eval();
  torch::NoGradGuard no_grad;
  const auto want = torch::softmax(net.forward(train::eval_transform_of(p)(image).unsqueeze(0)), 1)[0];
  CHECK(torch::allclose(predictor.probabilities(image), want, 1e-5, 1e-6));
  CHECK(predictor.predict(image, 2).size() == 2);

  // A model the registry does not hold: named, with the way to add it.
  info.model = "mynet (7 features) -> avg -> Linear(classes)";
  train::save_checkpoint(dir / "other.pt", *net.module, info);
  CHECK_THROWS_WITH(train::CheckpointPredictor(dir / "other.pt"),
                    Catch::Matchers::Contains("other.pt: its model 'mynet") && Catch::Matchers::Contains("registry().add<Spec>(name)"));
}

}  // namespace unit_train_preprocessing

// Runtime tests of the learning-rate finder on a small, learnable problem.
#include <ftmeta/train/lr_finder.hpp>

#include <catch2/catch.hpp>

#include <filesystem>

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_train_lr_finder {

TEST_CASE("The learning-rate finder sweeps, suggests a rate inside the sweep, and restores the model", "[train][lr_finder]") {
  torch::manual_seed(0);
  // Three separable classes in 8 dimensions: a linear model learns them at a sensible rate and
  // diverges at a huge one, so the curve falls, then rises.
  auto centres = torch::randn({3, 8}) * 3;
  auto make_batch = [&]() {
    auto labels = torch::randint(0, 3, {32});
    return ftmeta::train::LoopBatch{centres.index_select(0, labels) + torch::randn({32, 8}), labels};
  };
  torch::nn::Linear model(8, 3);
  torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  // Two groups would keep their ratio; one group here, with momentum state to restore.
  std::int64_t served = 0;
  ftmeta::train::NextBatch next = [&]() -> std::optional<ftmeta::train::LoopBatch> {
    if (served++ % 50 == 49) return std::nullopt;  // an "epoch" of 49 batches: the finder restarts it
    return make_batch();
  };
  int restarts = 0;
  auto before = model->weight.detach().clone();
  ftmeta::train::LrFinderOptions o;
  o.start_lr = 1e-5;
  o.end_lr = 100;
  o.steps = 120;
  auto r = ftmeta::train::find_learning_rate(*model, [&](const torch::Tensor& x) { return model->forward(x); }, opt, next,
                                             [&] { ++restarts; }, torch::kCPU, o);
  REQUIRE(r.lrs.size() > 20);
  CHECK(restarts >= 1);
  CHECK(r.lrs.front() == Approx(1e-5));
  CHECK(r.suggestion > 1e-4);  // the loss barely moves at the smallest rates
  CHECK(r.suggestion < 10.0);  // and diverges at the largest
  const auto lowest = *std::min_element(r.losses.begin(), r.losses.end());
  CHECK(lowest < r.losses.front() * 0.5);  // the sweep really trained
  CHECK(torch::equal(model->weight, before));  // the model is back as it was
  CHECK(opt.param_groups()[0].options().get_lr() == 0.05);

  const auto png = std::filesystem::temp_directory_path() / ("ftmeta_lr_finder_" + std::to_string(::getpid()) + ".png");
  ftmeta::train::plot_lr_finder(png, r);
  CHECK(std::filesystem::file_size(png) > 1000);
  std::filesystem::remove(png);
}

}  // namespace unit_train_lr_finder

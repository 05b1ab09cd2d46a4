// Runtime tests of mixup, cutmix, label smoothing, the weight EMA and early stopping.
#include <ftmeta/train/regularize.hpp>

#include <catch2/catch.hpp>

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_train_regularize {

TEST_CASE("Soft targets with smoothing give LibTorch's label-smoothed cross-entropy", "[train][regularize]") {
  torch::manual_seed(0);
  auto logits = torch::randn({16, 5});
  auto labels = torch::randint(0, 5, {16});
  for (double eps : {0.0, 0.1, 0.3}) {
    auto ours = ftmeta::train::soft_cross_entropy(logits, ftmeta::train::soft_targets(labels, 5, eps));
    auto theirs = torch::nn::functional::cross_entropy(logits, labels, torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(eps));
    CHECK(ours.item<double>() == Approx(theirs.item<double>()).epsilon(1e-6));
  }
}

TEST_CASE("Beta samples have the Beta distribution's mean and variance", "[train][regularize]") {
  ftmeta::Rng rng(3);
  for (auto [a, b] : {std::pair{0.2, 0.2}, std::pair{1.0, 1.0}, std::pair{2.0, 5.0}}) {
    const int n = 20000;
    double sum = 0, sq = 0;
    int outside = 0;
    for (int i = 0; i < n; ++i) {
      const double x = ftmeta::train::sample_beta(rng, a, b);
      outside += (x < 0.0 || x > 1.0) ? 1 : 0;
      sum += x, sq += x * x;
    }
    CHECK(outside == 0);
    const double mean = sum / n, var = sq / n - mean * mean;
    const double m = a / (a + b), v = a * b / ((a + b) * (a + b) * (a + b + 1));
    CHECK(std::abs(mean - m) < 5 * std::sqrt(v / n));  // five standard errors
    CHECK(std::abs(var - v) < 0.05 * v + 1e-3);
  }
}

TEST_CASE("Mixup and cutmix mix images and targets by the same weight", "[train][regularize]") {
  torch::manual_seed(1);
  auto images = torch::rand({4, 3, 16, 20});
  auto labels = torch::tensor({0, 1, 2, 1});
  ftmeta::Rng rng(5);
  auto m = ftmeta::train::mixup(images, labels, 3, 0.4, rng);
  CHECK(torch::allclose(m.images, images * m.lambda + images.roll(1, 0) * (1 - m.lambda)));
  CHECK(torch::allclose(m.targets.sum(1), torch::ones({4})));
  CHECK(m.targets[0][0].item<double>() == Approx(m.lambda));  // sample 0 is label 0 mixed with sample 3 (label 1)
  CHECK(m.targets[0][1].item<double>() == Approx(1 - m.lambda));

  for (int trial = 0; trial < 20; ++trial) {
    auto c = ftmeta::train::cutmix(images, labels, 3, 1.0, rng);
    // Every pixel comes from the image itself or from its rolled partner; the partner's share is 1 - λ.
    auto from_self = (c.images == images).all(1);
    auto from_other = (c.images == images.roll(1, 0)).all(1);
    CHECK((from_self | from_other).all().item<bool>());
    const double pasted = 1.0 - from_self.to(torch::kFloat)[0].mean().item<double>();
    CHECK(pasted == Approx(1 - c.lambda).margin(1e-9));
    CHECK(torch::allclose(c.targets.sum(1), torch::ones({4})));
  }
}

TEST_CASE("The weight EMA follows its recurrence and swaps in and out", "[train][regularize]") {
  torch::nn::Linear net(2, 1);
  torch::NoGradGuard no_grad;
  net->weight.fill_(0);
  ftmeta::train::WeightEma ema(*net, 0.9);
  for (int step = 1; step <= 3; ++step) {
    net->weight.fill_(static_cast<double>(step));
    ema.update(*net);
  }
  // 0 -> 0.1 -> 0.29 -> 0.561
  CHECK(ema.parameters()[0][0][0].item<double>() == Approx(0.561));
  ema.swap_into(*net);
  CHECK(net->weight[0][0].item<double>() == Approx(0.561));
  ema.swap_into(*net);
  CHECK(net->weight[0][0].item<double>() == Approx(3.0));
  CHECK(ema.updates() == 3);
}

TEST_CASE("Early stopping waits `patience` epochs without improvement", "[train][regularize]") {
  ftmeta::train::EarlyStopping stop(2);
  CHECK_FALSE(stop.update(0.5));
  CHECK_FALSE(stop.update(0.6));
  CHECK_FALSE(stop.update(0.6));  // not better: 1
  CHECK(stop.update(0.55));       // 2: stop
  CHECK(stop.best() == 0.6);
  ftmeta::train::EarlyStopping loss(1, /*higher_is_better=*/false);
  CHECK_FALSE(loss.update(1.0));
  CHECK_FALSE(loss.update(0.9));
  CHECK(loss.update(0.95));
}

}  // namespace unit_train_regularize

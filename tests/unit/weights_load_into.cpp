// Tests of load_into (name matching, prefixes, strict and non-strict) and sum_input_channels.
#include <ftmeta/nn/weights.hpp>

#include "support/npy.hpp"

#include <catch2/catch.hpp>

#include <string>

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_weights_load_into {

using namespace ftmeta::nn;

namespace {

struct SmallNetImpl : torch::nn::Module {
  torch::nn::Linear fc{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};
  SmallNetImpl() {
    fc = register_module("fc", torch::nn::Linear(3, 2));
    bn = register_module("bn", torch::nn::BatchNorm1d(2));
  }
};
TORCH_MODULE(SmallNet);

// A state dict for SmallNet whose every value differs from a fresh SmallNet's.
StateDict source_state() {
  StateDict sd;
  sd.emplace_back("fc.weight", torch::randn({2, 3}));
  sd.emplace_back("fc.bias", torch::randn({2}));
  sd.emplace_back("bn.weight", torch::rand({2}) + 2);
  sd.emplace_back("bn.bias", torch::randn({2}));
  sd.emplace_back("bn.running_mean", torch::randn({2}));
  sd.emplace_back("bn.running_var", torch::rand({2}) + 2);
  sd.emplace_back("bn.num_batches_tracked", torch::tensor(7, torch::kInt64));
  return sd;
}

torch::Tensor value_of(torch::nn::Module& m, const std::string& name) {
  for (const auto& p : m.named_parameters()) if (p.key() == name) return p.value();
  for (const auto& b : m.named_buffers()) if (b.key() == name) return b.value();
  FAIL("no " << name);
  return {};
}

bool holds(torch::nn::Module& m, const StateDict& sd, const std::string& module_name, const std::string& file_name) {
  return torch::equal(value_of(m, module_name), sd.find(file_name).to(value_of(m, module_name).scalar_type()));
}

std::string strict_error(torch::nn::Module& m, const StateDict& sd, const LoadOptions& o = {}) {
  try {
    load_into(m, sd, o);
  } catch (const ftmeta::WeightsError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("load_into: a matching state dict fills parameters and buffers", "[weights]") {
  torch::manual_seed(11);
  SmallNet net;
  const auto sd = source_state();
  const auto report = load_into(*net, sd);
  CHECK(report.ok());
  CHECK(report.loaded == sd.size());
  for (const auto& [name, t] : sd) {
    INFO(name);
    CHECK(holds(*net, sd, name, name));
  }
  CHECK_FALSE(value_of(*net, "fc.weight").grad().defined());
  CHECK(value_of(*net, "fc.weight").requires_grad());
}

TEST_CASE("load_into: the DataParallel 'module.' prefix is stripped", "[weights]") {
  torch::manual_seed(12);
  auto sd = source_state();
  for (auto& [name, t] : sd) name = "module." + name;
  SmallNet net;
  CHECK(load_into(*net, sd).ok());
  CHECK(holds(*net, sd, "fc.weight", "module.fc.weight"));
  CHECK(holds(*net, sd, "bn.num_batches_tracked", "module.bn.num_batches_tracked"));

  SmallNet kept;
  const auto msg = strict_error(*kept, sd, {.strip_module_prefix = false});
  CHECK_THAT(msg, Catch::Contains("7 missing from the file") && Catch::Contains("7 unexpected") &&
                      Catch::Contains("module.fc.weight"));
}

TEST_CASE("load_into: strict refuses and loads nothing; non-strict loads what fits", "[weights]") {
  torch::manual_seed(13);
  auto sd = source_state();
  sd.erase(sd.begin() + 1);                               // fc.bias missing
  sd.emplace_back("extra.weight", torch::zeros({1}));     // unexpected
  sd[0].second = torch::randn({3, 3});                    // fc.weight of the wrong shape
  SmallNet net;
  const auto before = value_of(*net, "bn.running_mean").clone();
  const auto msg = strict_error(*net, sd);
  CHECK_THAT(msg, Catch::Contains("1 missing from the file: fc.bias") &&
                      Catch::Contains("1 unexpected (not in the module): extra.weight") &&
                      Catch::Contains("fc.weight: file [3, 3], module [2, 3]") && Catch::Contains(".strict = false"));
  CHECK(torch::equal(value_of(*net, "bn.running_mean"), before));  // nothing copied

  const auto report = load_into(*net, sd, {.strict = false});
  CHECK_FALSE(report.ok());
  CHECK(report.missing == std::vector<std::string>{"fc.bias"});
  CHECK(report.unexpected == std::vector<std::string>{"extra.weight"});
  REQUIRE(report.mismatched.size() == 1);
  CHECK(report.loaded == 5);
  CHECK(holds(*net, sd, "bn.running_mean", "bn.running_mean"));
  CHECK_FALSE(torch::equal(value_of(*net, "bn.running_mean"), before));
  CHECK_THAT(report.describe(), Catch::StartsWith("1 missing from the file: fc.bias\n") &&
                                    Catch::EndsWith("\n5 other tensors loaded"));
  CHECK(load_into(*net, source_state()).describe() == "all 7 tensors loaded");
}

TEST_CASE("load_into: renamed and skipped prefixes", "[weights]") {
  torch::manual_seed(14);
  auto sd = source_state();
  for (auto& [name, t] : sd)
    if (name.starts_with("fc.")) name = "head." + name.substr(3);
  SmallNet net;
  CHECK(load_into(*net, sd, {.rename_prefix = {{"head.", "fc."}}}).ok());
  CHECK(holds(*net, sd, "fc.bias", "head.bias"));

  // Skipping "fc." ignores the file's head and the module's alike: the rest loads strictly.
  SmallNet other;
  const auto fresh_fc = value_of(*other, "fc.weight").clone();
  const auto report = load_into(*other, sd, {.skip_prefixes = {"head.", "fc."}});
  CHECK(report.ok());
  CHECK(report.loaded == 5);
  CHECK(torch::equal(value_of(*other, "fc.weight"), fresh_fc));
}

TEST_CASE("load_into: from a file, with the file named in errors", "[weights]") {
  const auto dir = ftmeta::test::refs_dir() / "weights";
  torch::nn::Sequential seq(torch::nn::Linear(3, 2));
  CHECK(load_into(*seq, dir / "wrapped_zip.pt").ok());
  CHECK(torch::equal(value_of(*seq, "0.weight").to(torch::kFloat64), ftmeta::test::load_npy(dir / "wrapped_weight.npy")));
  torch::nn::Sequential wider(torch::nn::Linear(4, 2));
  try {
    load_into(*wider, dir / "wrapped_zip.pt");
    FAIL("no WeightsError");
  } catch (const ftmeta::WeightsError& e) {
    // one line: the file, then the first offending key with both shapes
    CHECK_THAT(std::string(e.what()), Catch::StartsWith((dir / "wrapped_zip.pt").string() + ": the state dict does not fit the module") &&
                                          Catch::Contains("first at '0.weight' (file [2, 3], module [2, 4])"));
  }
}

TEST_CASE("sum_input_channels: RGB kernels summed for gray input", "[weights]") {
  torch::manual_seed(15);
  StateDict sd;
  sd.emplace_back("stem.weight", torch::randn({4, 3, 3, 3}));
  sd.emplace_back("stem.bias", torch::randn({4}));
  const auto rgb = sd[0].second.clone();
  sum_input_channels(sd, "stem.weight");
  REQUIRE(sd[0].second.sizes().vec() == std::vector<std::int64_t>{4, 1, 3, 3});
  // A gray image g through the summed kernel equals (g, g, g) through the RGB kernel.
  const auto g = torch::randn({1, 1, 8, 8});
  CHECK(torch::allclose(torch::conv2d(g, sd[0].second), torch::conv2d(g.expand({1, 3, 8, 8}), rgb), 1e-5, 1e-5));
  CHECK_THROWS_WITH(sum_input_channels(sd, "stem.bias"), Catch::Contains("'stem.bias' is [4], not a conv kernel"));
  CHECK_THROWS_WITH(sum_input_channels(sd, "nope"), Catch::Contains("has no 'nope'"));
}

}  // namespace unit_weights_load_into

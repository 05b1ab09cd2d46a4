// Tests of the classifier's named parts: parameters per part, freezing, BatchNorm kept in eval.
#include <ftmeta/nn/model.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_models_freeze {

using namespace ftmeta::nn;

namespace {

struct SmallHead : Head<BatchNorm1d, Linear<32>, ReLU, Linear<Classes>> {};
struct Net : Model<backbones::ResNet18, AvgPool, SmallHead> {};

// Whether every BatchNorm under `prefix` (a key prefix of the classifier) is in training mode,
// checked on at least one.
bool batch_norms_training(ClassifierImpl<Net>& net, const std::string& prefix, bool want) {
  int seen = 0;
  for (const auto& m : net.named_modules("", false)) {
    const bool is_bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(m.value().get()) ||
                       dynamic_cast<torch::nn::BatchNorm1dImpl*>(m.value().get());
    if (!is_bn || !(m.key() + ".").starts_with(prefix)) continue;
    ++seen;
    if (m.value()->is_training() != want) return false;
  }
  return seen > 0;
}

}  // namespace

TEST_CASE("models: parts are backbone, head and the backbone's stages", "[models][freeze]") {
  Classifier<Net> net(4);
  CHECK(net->parts() ==
        std::vector<std::string>{"backbone", "head", "backbone.stem", "backbone.layer1", "backbone.layer2",
                                 "backbone.layer3", "backbone.layer4"});
  std::size_t in_stages = 0;
  for (const auto& part : net->parts()) {
    const auto named = net->named_parameters_of(part);
    CHECK(!named.empty());
    CHECK(named.size() == net->parameters_of(part).size());
    for (const auto& [key, t] : named) {
      INFO(part << " holds " << key);
      if (part == "head") CHECK(key.starts_with("head."));
      else CHECK(key.starts_with("backbone."));
      if (part.starts_with("backbone.")) CHECK(backbones::ResNet18::stage_of(key.substr(9)) == part.substr(9));
    }
    if (part.starts_with("backbone.")) in_stages += named.size();
  }
  CHECK(in_stages == net->parameters_of("backbone").size());
  CHECK(net->parameters_of("backbone").size() + net->parameters_of("head").size() == net->parameters().size());
  CHECK_THROWS_WITH(net->freeze("backbone.layer5"),
                    Catch::Contains("has no part 'backbone.layer5'") && Catch::Contains("backbone.layer4"));
  CHECK_THROWS_AS(net->is_frozen("neck"), ftmeta::UsageError);

  Classifier<Model<backbones::EfficientNetLite0, ConcatPool, Head<Linear<Classes>>>> lite(3);
  CHECK(lite->parts().size() == 2 + 9);
  CHECK(lite->named_parameters_of("backbone.stage7").front().first.starts_with("backbone._blocks.15."));
}

TEST_CASE("models: a frozen part gets no gradient and keeps its BatchNorm statistics", "[models][freeze]") {
  torch::manual_seed(3);
  Classifier<Net> net(4);
  net->freeze("backbone");
  CHECK(net->is_frozen("backbone"));
  CHECK(net->is_frozen("backbone.layer2"));
  CHECK_FALSE(net->is_frozen("head"));
  net->train();
  CHECK(net->is_training());
  CHECK(batch_norms_training(*net, "backbone.", false));
  CHECK(batch_norms_training(*net, "head.", true));

  const auto backbone_mean = net->named_buffers()["backbone.layer1.0.bn1.running_mean"].clone();
  const auto head_mean = net->named_buffers()["head.0.running_mean"].clone();
  const auto out = net->forward(torch::randn({4, 3, 32, 32}));
  CHECK(torch::equal(net->named_buffers()["backbone.layer1.0.bn1.running_mean"], backbone_mean));
  CHECK_FALSE(torch::equal(net->named_buffers()["head.0.running_mean"], head_mean));
  torch::nn::functional::cross_entropy(out, torch::tensor({0, 1, 2, 3})).backward();
  for (const auto& p : net->parameters_of("backbone")) CHECK_FALSE(p.grad().defined());
  for (const auto& p : net->parameters_of("head")) CHECK(p.grad().defined());

  // eval() and train() again: the frozen part stays in eval.
  net->eval();
  CHECK(batch_norms_training(*net, "head.", false));
  net->train();
  CHECK(batch_norms_training(*net, "backbone.", false));
  CHECK(batch_norms_training(*net, "head.", true));
}

TEST_CASE("models: unfreezing one stage trains it alone", "[models][freeze]") {
  Classifier<Net> net(2);
  net->train();
  net->freeze("backbone");
  net->unfreeze("backbone.layer4");
  CHECK(net->is_frozen("backbone.layer3"));
  CHECK_FALSE(net->is_frozen("backbone.layer4"));
  CHECK_FALSE(net->is_frozen("backbone"));
  CHECK(batch_norms_training(*net, "backbone.layer4.", true));
  CHECK(batch_norms_training(*net, "backbone.layer3.", false));
  CHECK(batch_norms_training(*net, "backbone.bn1.", false));
  for (const auto& p : net->parameters_of("backbone.layer4")) CHECK(p.requires_grad());
  for (const auto& p : net->parameters_of("backbone.stem")) CHECK_FALSE(p.requires_grad());
  // Frozen while in eval: train() later leaves it in eval; unfreezing restores train mode.
  net->eval();
  net->freeze("head");
  net->train();
  CHECK(batch_norms_training(*net, "head.", false));
  net->unfreeze("head");
  CHECK(batch_norms_training(*net, "head.", true));
}

}  // namespace unit_models_freeze

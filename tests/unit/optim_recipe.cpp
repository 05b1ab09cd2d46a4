// Runtime tests of recipes: schedule trajectories and optimizer steps against PyTorch's (the
// references come from running torch in tests/python/refs/optim_*.py), the assignment of parameters
// to groups with its checks, phases, clipping and accumulation, and the trainer running a recipe.
#include <ftmeta/nn.hpp>
#include <ftmeta/optim.hpp>
#include <ftmeta/train/trainer.hpp>

#include <catch2/catch.hpp>
#include <support/npy.hpp>

#include <array>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_optim_recipe {

namespace {
using namespace ftmeta::optim;
using Catch::Contains;

// A small model with the part API of nn::ClassifierImpl: backbone (stages "stem": stem + norm,
// "stage1") and head, the parameter order of tests/python/refs/optim_steps.py.
struct ToyBackbone {
  static constexpr std::array<std::string_view, 2> stages{"stem", "stage1"};
};
struct ToySpec {
  using backbone = ToyBackbone;
  static constexpr std::array<std::string_view, 2> parts{"backbone", "head"};
};
struct ToyImpl : torch::nn::Module {
  using spec = ToySpec;
  torch::nn::Linear stem{nullptr}, stage1{nullptr}, head{nullptr};
  torch::nn::BatchNorm1d norm{nullptr};
  ToyImpl() {
    auto bb = register_module("backbone", std::make_shared<torch::nn::Module>());
    stem = bb->register_module("stem", torch::nn::Linear(4, 6));
    norm = bb->register_module("norm", torch::nn::BatchNorm1d(6));
    stage1 = bb->register_module("stage1", torch::nn::Linear(6, 5));
    head = register_module("head", torch::nn::Linear(5, 3));
  }
  torch::Tensor forward(const torch::Tensor& x) { return head(torch::relu(stage1(norm(stem(x))))); }
  static std::vector<std::string> prefixes(std::string_view part) {
    if (part == "backbone") return {"backbone."};
    if (part == "head") return {"head."};
    if (part == "backbone.stem") return {"backbone.stem.", "backbone.norm."};
    if (part == "backbone.stage1") return {"backbone.stage1."};
    throw ftmeta::UsageError("toy model has no part '" + std::string(part) + "'");
  }
  std::vector<std::pair<std::string, torch::Tensor>> named_parameters_of(std::string_view part) {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    const auto pre = prefixes(part);
    for (auto& p : named_parameters(true))
      for (auto& s : pre)
        if (p.key().rfind(s, 0) == 0) out.emplace_back(p.key(), p.value());
    return out;
  }
  std::vector<torch::Tensor> parameters_of(std::string_view part) {
    std::vector<torch::Tensor> out;
    for (auto& [k, t] : named_parameters_of(part)) out.push_back(t);
    return out;
  }
  void freeze(std::string_view part) { for (auto& t : parameters_of(part)) t.requires_grad_(false); }
  void unfreeze(std::string_view part) { for (auto& t : parameters_of(part)) t.requires_grad_(true); }
};

std::filesystem::path refs(const std::string& area) { return ftmeta::test::refs_dir() / area; }

// Runs schedule S from base 0.1 as PyTorch did and returns the largest deviation from its trajectory.
template <class S>
double schedule_error(const std::string& name, std::int64_t horizon = 0, const std::string& metric = "") {
  auto expected = ftmeta::test::load_npy(refs("optim_schedules") / (name + ".npy"));
  torch::Tensor metrics;
  if (!metric.empty()) metrics = ftmeta::test::load_npy(refs("optim_schedules") / (metric + ".npy"));
  ScheduleRunOf<S> run(0.1, horizon);
  double worst = 0;
  for (std::int64_t t = 0; t < expected.size(0); ++t) {
    if (t > 0) {
      Observed o;
      if (metrics.defined()) o.val_loss = o.val_accuracy = metrics[t - 1].item<double>();
      run.step(o);
    }
    worst = std::max(worst, std::abs(run.lr() - expected[t].item<double>()));
  }
  return worst;
}

// The toy model's parameters set to init.npy; then steps with grads.npy, returning the
// parameters after each step as rows.
template <class Recipe>
torch::Tensor steps_of() {
  torch::manual_seed(0);
  auto model = std::make_shared<ToyImpl>();
  auto init = ftmeta::test::load_npy(refs("optim_steps") / "init.npy");
  auto grads = ftmeta::test::load_npy(refs("optim_steps") / "grads.npy");
  auto params = model->parameters();
  auto split = [&](const torch::Tensor& flat, std::function<void(torch::Tensor&, const torch::Tensor&)> f) {
    std::int64_t at = 0;
    for (auto& p : params) {
      f(p, flat.slice(0, at, at + p.numel()).view(p.sizes()));
      at += p.numel();
    }
  };
  {
    torch::NoGradGuard no_grad;
    split(init, [](torch::Tensor& p, const torch::Tensor& v) { p.copy_(v); });
  }
  auto built = build_optimizer<Recipe>(*model);
  ftmeta::train::StepControl control{Recipe::accumulate, Recipe::clip_grad_norm, Recipe::clip_grad_value, {}};
  std::vector<torch::Tensor> rows;
  for (std::int64_t s = 0; s < grads.size(0); ++s) {
    split(grads[s], [](torch::Tensor& p, const torch::Tensor& g) { p.mutable_grad() = g.clone(); });
    ftmeta::train::detail::clip_and_step(*built.optimizer, control);
    std::vector<torch::Tensor> flat;
    for (auto& p : params) flat.push_back(p.detach().flatten().clone());
    rows.push_back(torch::cat(flat));
  }
  return torch::stack(rows);
}

template <class Recipe>
void check_steps(const std::string& name) {
  torch::Tensor ours = steps_of<Recipe>();
  torch::Tensor theirs = ftmeta::test::load_npy(refs("optim_steps") / (name + ".npy"));
  INFO(name << ": largest difference " << (ours - theirs).abs().max().item<double>());
  CHECK(ours.sizes() == theirs.sizes());
  CHECK(torch::allclose(ours, theirs, 1e-5, 1e-6));
}

struct SgdRecipe : Sgd<Momentum<0.9>, Dampening<0.1>, Group<BackbonePart, Lr<0.1>, WeightDecay<1e-2>>,
                       Group<NormAndBias<BackbonePart>, Lr<0.05>, WeightDecay<0.0>>, Group<HeadPart, Lr<0.01>>> {};
struct NesterovRecipe : Sgd<Momentum<0.8>, Nesterov, WeightDecay<1e-3>, Group<Stage<"stage1">, Lr<0.2>>, Group<BackbonePart, Lr<0.1>>,
                            Group<HeadPart, Lr<0.3>>> {};
struct AdamRecipe : Adam<Betas<0.8, 0.99>, Eps<1e-6>, Group<BackbonePart, Lr<1e-2>, WeightDecay<1e-2>>, Group<HeadPart, Lr<1e-3>>> {};
struct AdamWRecipe : AdamW<BaseLr<1e-2>, Group<BackbonePart, LrScale<0.5>, LayerDecay<0.5>>,
                           Group<NormAndBias<BackbonePart>, LrScale<1.0>, WeightDecay<0.0>>, Group<HeadPart, LrScale<1.0>>> {};
struct ClipNormRecipe : Sgd<Momentum<0.9>, ClipGradNorm<0.5>, Group<BackbonePart, Lr<0.1>>, Group<HeadPart, Lr<0.1>>> {};
struct ClipValueRecipe : Sgd<Momentum<0.9>, ClipGradValue<0.3>, Group<BackbonePart, Lr<0.1>>, Group<HeadPart, Lr<0.1>>> {};
}  // namespace

TEST_CASE("Schedules follow torch.optim.lr_scheduler step by step within 1e-9", "[optim][schedule]") {
  CHECK(schedule_error<Constant>("constant") < 1e-9);
  CHECK(schedule_error<Step<3, 0.5>>("step") < 1e-9);
  CHECK(schedule_error<MultiStep<0.3, 4, 9, 9, 15>>("multistep") < 1e-9);
  CHECK(schedule_error<Exponential<0.9>>("exponential") < 1e-9);
  CHECK(schedule_error<CosineAnnealing<10, 1e-4>>("cosine") < 1e-9);
  CHECK(schedule_error<CosineAnnealing<>>("cosine_horizon", 12) < 1e-9);  // T_max from the phase's length
  CHECK(schedule_error<LinearWarmup<5, CosineAnnealing<15, 1e-5>, 0.1>>("warmup_cosine") < 1e-9);
  CHECK(schedule_error<LinearWarmup<3, Step<2, 0.5>>>("warmup_step") < 1e-9);
  CHECK(schedule_error<OneCycle<30>>("onecycle") < 1e-9);
  CHECK(schedule_error<OneCycle<0, 0.25, 10.0, 100.0, true>>("onecycle_three", 40) < 1e-9);
  CHECK(schedule_error<ReduceOnPlateau<0.5, 2, ValLoss, 1e-4, 1, 1e-3>>("plateau_min", 0, "plateau_min_metric") < 1e-9);
  CHECK(schedule_error<ReduceOnPlateau<0.2, 1, ValAccuracy>>("plateau_max", 0, "plateau_max_metric") < 1e-9);
  // The references do change (a flat trajectory would make the comparison trivial).
  auto plateau = ftmeta::test::load_npy(refs("optim_schedules") / "plateau_min.npy");
  CHECK(plateau.min().item<double>() < plateau.max().item<double>());
}

TEST_CASE("Schedules refuse what PyTorch refuses: an unknown length, stepping past one-cycle's end", "[optim][schedule]") {
  CHECK_THROWS_WITH(ScheduleRunOf<CosineAnnealing<>>(0.1, 0), Contains("CosineAnnealing<TMax>") && Contains("length"));
  ScheduleRunOf<OneCycle<3>> run(0.1, 0);
  run.step({});
  run.step({});
  run.step({});
  CHECK_THROWS_WITH(run.step({}), Contains("past its total of 3"));
}

TEST_CASE("One optimizer step per recipe matches PyTorch's for the same groups and gradients", "[optim][step]") {
  check_steps<SgdRecipe>("sgd");
  check_steps<NesterovRecipe>("nesterov");
  check_steps<AdamRecipe>("adam");
  check_steps<AdamWRecipe>("adamw");
  check_steps<ClipNormRecipe>("clip_norm");
  check_steps<ClipValueRecipe>("clip_value");
}

TEST_CASE("Parameters go to the most specific group; layer decay splits the backbone by stages", "[optim][groups]") {
  ToyImpl model;
  auto built = build_optimizer<AdamWRecipe>(model);
  REQUIRE(built.groups.size() == 4);
  CHECK(built.groups[0].name == "backbone.stem");
  CHECK(built.groups[0].lr == Approx(0.25e-2));
  CHECK(built.groups[0].tensors == 1);  // the stem's weight: its bias and the norm went to NormAndBias
  CHECK(built.groups[1].name == "backbone.stage1");
  CHECK(built.groups[2].tensors == 4);
  CHECK(built.groups[2].weight_decay == 0);
  CHECK(built.groups[3].weight_decay == 1e-2);  // AdamW's default
  auto& pg = built.optimizer->param_groups();
  CHECK(static_cast<torch::optim::AdamWOptions&>(pg[1].options()).lr() == Approx(0.5e-2));
  std::int64_t total = 0;
  for (auto& g : built.groups) total += g.numel;
  std::int64_t expected = 0;
  for (auto& p : model.parameters()) expected += p.numel();
  CHECK(total == expected);
}

TEST_CASE("A recipe lowers to a descriptor; the one builder gives the same optimizer from a descriptor written by hand",
          "[optim][groups][descriptor]") {
  const auto d = lower_recipe<AdamWRecipe, ToySpec>();
  CHECK(d.kind == OptimizerKind::adamw);
  REQUIRE(d.groups.size() == 3);
  CHECK(d.groups[0].part == "backbone");
  CHECK(d.groups[0].lr == Approx(0.5e-2));  // LrScale<0.5> of BaseLr<1e-2>
  CHECK(d.groups[0].layer_decay == 0.5);
  CHECK(d.groups[0].weight_decay == 1e-2);  // AdamW's default, the group giving none
  CHECK(d.groups[1].filter == Filter::norm_and_bias);
  CHECK(d.groups[1].selector == "norm and bias of backbone");
  CHECK(d.groups[1].specificity > d.groups[0].specificity);
  CHECK(d.groups[2].schedule == "constant");
  REQUIRE(d.phases.size() == 1);
  CHECK(d.phases[0].epochs == 0);
  // A recipe as data, with no recipe type (SGD, the backbone at 0.1, the head at 0.01 with weight
  // decay): the builder gives what it gives for the same recipe declared as a type.
  RecipeDescriptor by_hand;
  by_hand.kind = OptimizerKind::sgd;
  by_hand.momentum = 0.9;
  const MakeSchedule constant = [](double base, std::int64_t) -> std::unique_ptr<ScheduleRun> {
    return std::make_unique<ScheduleRunOf<Constant>>(base, 0);
  };
  by_hand.groups = {{"backbone", Filter::all, 1, "backbone", 0.1, 0, 0, "constant", Unit::epoch, constant},
                    {"head", Filter::all, 1, "head", 0.01, 1e-3, 0, "constant", Unit::epoch, constant}};
  struct Typed : Sgd<Momentum<0.9>, Group<BackbonePart, Lr<0.1>>, Group<HeadPart, Lr<0.01>, WeightDecay<1e-3>>> {};
  ToyImpl model;
  const auto from_type = build_optimizer<Typed>(model);
  const auto from_data = build_optimizer(by_hand, model_parts(model));
  REQUIRE(from_data.groups.size() == from_type.groups.size());
  for (std::size_t i = 0; i < from_type.groups.size(); ++i) {
    CHECK(from_data.groups[i].name == from_type.groups[i].name);
    CHECK(from_data.groups[i].numel == from_type.groups[i].numel);
    auto& a = static_cast<torch::optim::SGDOptions&>(from_type.optimizer->param_groups()[i].options());
    auto& b = static_cast<torch::optim::SGDOptions&>(from_data.optimizer->param_groups()[i].options());
    CHECK(a.lr() == b.lr());
    CHECK(a.momentum() == b.momentum());
    CHECK(a.weight_decay() == b.weight_decay());
  }
  CHECK(from_data.optimizer->param_groups()[1].options().get_lr() == 0.01);
  // A descriptor's mistakes are caught as a type's are: a group that selects nothing.
  by_hand.groups.push_back({"backbone.stem", Filter::all, 1, "stem", 0.1, 0, 0, "constant", Unit::epoch, constant});
  CHECK_THROWS_WITH(build_optimizer(by_hand, model_parts(model)), Contains("Group<stem>") && Contains("claimed by two Groups"));
}

namespace {
// A selector that claims the whole backbone like BackbonePart, equally specific: a clash.
struct WholeBackbone {
  static constexpr std::string_view part = "backbone";
  static constexpr Filter filter = Filter::all;
  static constexpr int specificity = 1;
  static std::string describe() { return "whole backbone"; }
};
}  // namespace

TEST_CASE("Building the optimizer lists parameters left over, claimed twice, or a group left empty", "[optim][groups]") {
  ToyImpl model;
  CHECK_THROWS_WITH((make_optimizer<Sgd<Group<BackbonePart, Lr<0.1>>>>(model)),
                    Contains("in no Group") && Contains("head.weight") && Contains("head.bias"));
  CHECK_THROWS_WITH((make_optimizer<Sgd<Group<BackbonePart, Lr<0.1>>, Group<WholeBackbone, Lr<0.2>>, Group<HeadPart, Lr<0.1>>>>(model)),
                    Contains("claimed by two Groups") && Contains("backbone.stem.weight") && Contains("whole backbone"));
  CHECK_THROWS_WITH((make_optimizer<Sgd<Group<Stage<"stem">, Lr<0.1>>, Group<Stage<"stage1">, Lr<0.1>>, Group<BackbonePart, Lr<0.1>>,
                                        Group<HeadPart, Lr<0.1>>>>(model)),
                    Contains("Group<backbone>") && Contains("selects no trainable parameter"));
  // Frozen parameters need no group.
  model.freeze("head");
  CHECK_NOTHROW(make_optimizer<Sgd<Group<BackbonePart, Lr<0.1>>>>(model));
}

namespace {
struct Phased : Sgd<Momentum<0.9>, LinearWarmup<1, CosineAnnealing<>>, Phase<2, BackbonePart>, Phase<0, LrScale<0.5>>,
                    Group<BackbonePart, Lr<1e-2>>, Group<HeadPart, Lr<1e-3>>> {};
struct Gradual : Sgd<GradualUnfreeze<1>, Group<BackbonePart, Lr<1e-2>>, Group<HeadPart, Lr<1e-3>>> {};
bool trainable(ToyImpl& m, std::string_view part) {
  bool all = true;
  for (auto& t : m.parameters_of(part)) all = all && t.requires_grad();
  return all;
}
}  // namespace

TEST_CASE("Phases freeze and unfreeze parts, restart schedules and keep the optimizer's state", "[optim][phase]") {
  ToyImpl model;
  auto run = make_recipe_run<Phased>(model);
  REQUIRE(run.phases().size() == 2);
  run.begin_epoch(1, 5, 0);
  CHECK(run.phase() == 0);
  CHECK_FALSE(trainable(model, "backbone"));
  CHECK(trainable(model, "head"));
  CHECK(run.lrs()[1] == Approx(1e-3 / 3));  // warmup from a third
  // One step: only the head moves, and only it gets momentum state.
  auto x = torch::randn({8, 4});
  auto stem_before = model.stem->weight.detach().clone();
  torch::nn::functional::cross_entropy(model.forward(x), torch::randint(0, 3, {8})).backward();
  run.optimizer().step();
  run.optimizer().zero_grad();
  CHECK(torch::equal(model.stem->weight, stem_before));
  auto& state = run.optimizer().state();
  const auto key = [](const torch::Tensor& t) { return t.unsafeGetTensorImpl(); };
  REQUIRE(state.count(key(model.head->weight)) == 1);
  CHECK(state.count(key(model.stem->weight)) == 0);
  auto buffer = static_cast<torch::optim::SGDParamState&>(*state.at(key(model.head->weight))).momentum_buffer().clone();
  run.end_epoch({});
  CHECK(run.lrs()[1] == Approx(1e-3));  // warmup done: cosine starts at the full lr (T_max = 2 - 1)
  run.begin_epoch(2, 5, 0);
  CHECK(run.phase() == 0);
  run.end_epoch({});
  run.begin_epoch(3, 5, 0);  // phase 2: everything trains, at half the lrs, the schedule restarted
  CHECK(run.phase() == 1);
  CHECK(trainable(model, "backbone"));
  CHECK(run.lrs()[0] == Approx(0.5 * 1e-2 / 3));
  auto& kept = static_cast<torch::optim::SGDParamState&>(*run.optimizer().state().at(key(model.head->weight)));
  CHECK(torch::equal(kept.momentum_buffer(), buffer));  // the same optimizer, its state kept
}

TEST_CASE("Gradual unfreezing opens one backbone stage per period, from the last", "[optim][phase]") {
  ToyImpl model;
  auto run = make_recipe_run<Gradual>(model);
  REQUIRE(run.phases().size() == 3);
  run.begin_epoch(1, 4, 0);
  CHECK_FALSE(trainable(model, "backbone"));
  run.begin_epoch(2, 4, 0);
  CHECK(trainable(model, "backbone.stage1"));
  CHECK_FALSE(trainable(model, "backbone.stem"));
  run.begin_epoch(3, 4, 0);
  CHECK(trainable(model, "backbone"));
  run.begin_epoch(4, 4, 0);
  CHECK(run.phase() == 2);
}

TEST_CASE("Per-step schedules step once per optimizer step; accumulation steps every N batches", "[optim][step]") {
  ToyImpl model;
  struct PerStep : Sgd<OneCycle<>, AccumulateGrad<2>, Group<BackbonePart, Lr<0.1>>, Group<HeadPart, Lr<0.1>>> {};
  auto run = make_recipe_run<PerStep>(model);
  CHECK_THROWS_WITH(run.begin_epoch(1, 1, 0), Contains("OneCycle<TotalSteps>"));  // length unknown
  auto run2 = make_recipe_run<PerStep>(model);
  run2.begin_epoch(1, 1, 3);  // 5 batches, accumulated by 2: 3 optimizer steps
  std::int64_t steps = 0;
  std::int64_t batch = 0;
  ftmeta::train::NextBatch next = [&]() -> std::optional<ftmeta::train::LoopBatch> {
    if (batch++ == 5) return std::nullopt;
    return ftmeta::train::LoopBatch{torch::randn({4, 4}), torch::randint(0, 3, {4})};
  };
  ftmeta::train::StepControl control{PerStep::accumulate, 0, 0, [&] { ++steps, run2.after_step(); }};
  ftmeta::train::train_epoch(model, [&](const torch::Tensor& x) { return model.forward(x); }, run2.optimizer(), next, torch::kCPU, 1, {},
                             control);
  CHECK(steps == 3);
  CHECK(run2.steps() == 3);
  ScheduleRunOf<OneCycle<3>> same(0.1, 0);
  for (int i = 0; i < 3; ++i) same.step({});
  CHECK(run2.lrs()[0] == Approx(same.lr()));
}

TEST_CASE("describe() lists the groups with parameter counts, their schedules and the phases", "[optim][describe]") {
  ToyImpl model;
  const auto text = describe<Phased>(model);
  CHECK_THAT(text, Contains("SGD(momentum 0.9)"));
  std::int64_t backbone = 0, head = 0;
  for (auto& t : model.parameters_of("backbone")) backbone += t.numel();
  for (auto& t : model.parameters_of("head")) head += t.numel();
  CHECK_THAT(text, Contains("group 0: backbone, 6 tensors, " + std::to_string(backbone) + " parameters, lr 0.01"));
  CHECK_THAT(text, Contains("group 1: head, 2 tensors, " + std::to_string(head) + " parameters, lr 0.001"));
  CHECK_THAT(text, Contains("linear warmup(1, from 0.333333) then cosine(T_max phase"));
  CHECK_THAT(text, Contains("phase 1: 2 epoch(s), frozen: backbone"));
  CHECK_THAT(text, Contains("phase 2: the rest of the run, nothing frozen, lr x 0.5"));
  CHECK_THAT(Phased::describe(), Contains("phase 1: 2 epoch(s), frozen: backbone"));
}

namespace {
namespace nn = ftmeta::nn;
struct TinyNet : nn::Model<nn::backbones::EfficientNetLite0, nn::AvgPool, nn::Head<nn::Linear<nn::Classes>>> {};
// The classic recipe of issue 6 with a step schedule (easy to read in metrics.csv).
ftmeta::train::TrainOptions quiet(std::int64_t epochs, std::filesystem::path out = {}) {
  ftmeta::train::TrainOptions o;
  o.epochs = epochs;
  o.out_dir = std::move(out);
  o.pretrained = false;
  o.log = nullptr;
  return o;
}
struct TwoPhase : Sgd<Momentum<0.9>, Step<1, 0.5>, Phase<1, BackbonePart>, Group<BackbonePart, Lr<1e-2>>, Group<HeadPart, Lr<1e-3>>> {};
// Three batches of two random 32x32 images, the same every epoch.
struct TinySource {
  struct Batch {
    torch::Tensor images, labels;
  };
  std::int64_t at = 0;
  void start_epoch(std::int64_t) { at = 0; }
  std::int64_t batches_per_epoch() const { return 3; }
  std::optional<Batch> next() {
    if (at == 3) return std::nullopt;
    torch::manual_seed(100 + at++);
    return Batch{torch::rand({2, 3, 32, 32}), torch::randint(0, 2, {2})};
  }
};
std::filesystem::path fresh_dir(const std::string& name) {
  auto p = std::filesystem::temp_directory_path() / ("ftmeta_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  return p;
}
}  // namespace

TEST_CASE("Trainer runs the recipe: a frozen first phase, then per-epoch lrs restarted, in metrics.csv", "[optim][train]") {
  using Trainer = ftmeta::train::Trainer<TinyNet, TwoPhase>;
  TinySource train, val;
  {
    Trainer one({"a", "b"}, quiet(1));
    auto& net = one.model();
    auto backbone_before = net->parameters_of("backbone")[0].detach().clone();
    auto head_before = net->parameters_of("head")[0].detach().clone();
    auto stats_before = net->backbone()->buffers()[0].clone();  // a BatchNorm running mean
    one.fit(train, val);
    CHECK(torch::equal(net->parameters_of("backbone")[0], backbone_before));
    CHECK(torch::equal(net->backbone()->buffers()[0], stats_before));  // frozen BatchNorm stays in eval
    CHECK_FALSE(torch::equal(net->parameters_of("head")[0], head_before));
  }
  const auto dir = fresh_dir("optim_trainer");
  Trainer three({"a", "b"}, quiet(3, dir));
  auto backbone_before = three.model()->parameters_of("backbone")[0].detach().clone();
  three.fit(train, val);
  CHECK_FALSE(torch::equal(three.model()->parameters_of("backbone")[0], backbone_before));  // trained in phase 2
  std::ifstream csv(dir / "metrics.csv");
  std::string header, line;
  std::getline(csv, header);
  CHECK_THAT(header, Contains("val_macro_f1,lr_backbone,lr_head,"));
  std::vector<std::vector<std::string>> rows;
  while (std::getline(csv, line)) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    for (std::string c; std::getline(ss, c, ',');) cells.push_back(c);
    rows.push_back(cells);
  }
  REQUIRE(rows.size() == 3);
  // Columns 7 and 8: the backbone's and the head's lr. Epoch 1 at the base; the schedule restarts
  // with phase 2 at epoch 2, then halves.
  CHECK(std::stod(rows[0][7]) == Approx(1e-2));
  CHECK(std::stod(rows[1][7]) == Approx(1e-2));
  CHECK(std::stod(rows[2][7]) == Approx(5e-3));
  CHECK(std::stod(rows[2][8]) == Approx(5e-4));
  CHECK_THAT(three.describe_recipe(), Contains("frozen: backbone"));
  std::filesystem::remove_all(dir);
}

}  // namespace unit_optim_recipe

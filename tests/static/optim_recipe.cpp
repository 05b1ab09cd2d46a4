// Compile-only tests of recipes as types: groups, selectors, schedules, phases, and the classic
// fine-tuning recipe of issue 6, checked against the model spec. If it compiles, they pass.
#include <ftmeta/nn/model_spec.hpp>
#include <ftmeta/optim/groups.hpp>

#include <type_traits>

namespace {
using namespace ftmeta::nn;
using namespace ftmeta::optim;
namespace meta = ftmeta::meta;

struct Net : Model<backbones::EfficientNetLite0, AvgPool, Head<Linear<Classes>>> {};

// The classic recipe: backbone at 1e-2, head at 1e-3, SGD with momentum 0.9, cosine with a linear
// warmup, the backbone frozen for the first 2 epochs.
struct Classic : Sgd<Momentum<0.9>, LinearWarmup<1, CosineAnnealing<>>, Phase<2, BackbonePart>,
                     Group<BackbonePart, Lr<1e-2>>, Group<HeadPart, Lr<1e-3>>> {};
static_assert(groups_fit_v<Classic, Net> && groups_cover_v<Classic, Net>);
static_assert(Classic::momentum == 0.9 && Classic::lr_of<meta::at_t<0, Classic::groups>>() == 1e-2);
static_assert(std::is_same_v<Classic::schedule_of<meta::at_t<1, Classic::groups>>, LinearWarmup<1, CosineAnnealing<>>>);
static_assert(meta::size_v<Classic::phases> == 1 && Classic::accumulate == 1 && Classic::clip_grad_norm == 0);

// Stages by name, norm and bias without decay, lr as a multiplier, layer-wise decay, AdamW.
struct Fancy : AdamW<BaseLr<1e-3>, WeightDecay<0.05>, Betas<0.9, 0.99>, ClipGradNorm<1.0>, AccumulateGrad<4>, OneCycle<>,
                     Group<BackbonePart, LrScale<0.1>, LayerDecay<0.8>>, Group<Stage<"stage7">, LrScale<0.5>>,
                     Group<NormAndBias<BackbonePart>, LrScale<0.1>, WeightDecay<0.0>, Constant>, Group<HeadPart, Lr<2e-3>>> {};
static_assert(groups_fit_v<Fancy, Net>);
static_assert(Stage<"stage7">::part == "backbone.stage7" && Stage<"stage7">::specificity > BackbonePart::specificity);
static_assert(NormAndBias<BackbonePart>::specificity > Stage<"stage7">::specificity);
static_assert(Fancy::lr_of<meta::at_t<1, Fancy::groups>>() == 0.5 * 1e-3);
static_assert(Fancy::weight_decay_of<meta::at_t<2, Fancy::groups>>() == 0 && Fancy::weight_decay_of<meta::at_t<0, Fancy::groups>>() == 0.05);
static_assert(Fancy::beta2 == 0.99 && Fancy::eps == 1e-8 && Fancy::accumulate == 4 && Fancy::clip_grad_norm == 1.0);
static_assert(AdamW<Group<HeadPart, Lr<1e-3>>>::weight_decay == 1e-2 && Adam<Group<HeadPart, Lr<1e-3>>>::weight_decay == 0);
static_assert(std::is_same_v<Fancy::schedule_of<meta::at_t<2, Fancy::groups>>, Constant>);

// A stage the backbone does not have, a part the model does not have, or the same selector twice.
static_assert(!groups_fit_v<Sgd<Group<Stage<"stage9">, Lr<1e-2>>, Group<HeadPart, Lr<1e-3>>>, Net>);
static_assert(!groups_fit_v<Sgd<Group<HeadPart, Lr<1e-3>>, Group<HeadPart, Lr<1e-2>>>, Net>);
static_assert(!groups_fit_v<Sgd<Group<HeadPart, Lr<1e-3>>, Phase<1, Stage<"neck">>>, Net>);
static_assert(!groups_cover_v<Sgd<Group<HeadPart, Lr<1e-3>>, Group<NormAndBias<BackbonePart>, Lr<1e-3>>>, Net>);

// Schedules say what they step on.
static_assert(OneCycle<>::unit == Unit::step && CosineAnnealing<>::unit == Unit::epoch);
static_assert(EveryStep<CosineAnnealing<10>>::unit == Unit::step && LinearWarmup<5, OneCycle<>>::unit == Unit::step);
static_assert(is_schedule_v<ReduceOnPlateau<>> && !is_schedule_v<Lr<1e-3>>);
// Option values may be written as integer or floating literals.
using IntLiterals = Sgd<Momentum<0>, WeightDecay<0>, Group<BackbonePart, Lr<1>>, Group<HeadPart, Lr<0.5>, WeightDecay<1>>>;
static_assert(IntLiterals::lr_of<meta::at_t<0, IntLiterals::groups>>() == 1.0 && IntLiterals::weight_decay == 0.0);
static_assert(IntLiterals::weight_decay_of<meta::at_t<1, IntLiterals::groups>>() == 1.0 && Betas<0, 0.5>::beta1 == 0.0);
}  // namespace

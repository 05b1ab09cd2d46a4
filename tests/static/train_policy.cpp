// Compile-only tests of fine-tuning policies: the default's parts, a policy without a head phase, and
// what FineTune<...> derives from its items. If it compiles, they pass.
#include <ftmeta/nn/backbone_spec.hpp>
#include <ftmeta/train/default_policy.hpp>

#include <type_traits>

namespace {
using namespace ftmeta;
using Lite0 = nn::backbones::EfficientNetLite0;
using train::DefaultFineTune;

static_assert(train::FineTunePolicy<DefaultFineTune>);
static_assert(DefaultFineTune::head_first::steps == 1000 && DefaultFineTune::head_first::views == 0);
static_assert(DefaultFineTune::head_first::lr == 1e-3 && DefaultFineTune::head_first::weight_decay == 1e-4);
static_assert(DefaultFineTune::recipe::kind == optim::OptimizerKind::adamw);
static_assert(meta::size_v<DefaultFineTune::recipe::groups> == 4);
static_assert(DefaultFineTune::batch_norm::mode == train::BatchNormMode::automatic);
static_assert(DefaultFineTune::batch_norm::min_batch == 32 && DefaultFineTune::batch_norm::min_images == 20000);
static_assert(DefaultFineTune::label_smoothing == 0.1 && DefaultFineTune::min_steps == 300 && DefaultFineTune::min_epochs == 3);
static_assert(DefaultFineTune::batch_size == 32);
static_assert(DefaultFineTune::channels_last && DefaultFineTune::keep_final);
static_assert(std::is_same_v<DefaultFineTune::train_pipeline<64, Lite0>, train::FineTuneAugment<64, Lite0>>);
static_assert(std::is_same_v<DefaultFineTune::eval_pipeline<224, Lite0>, train::FineTuneEvaluate<224, Lite0>>);
static_assert(train::FineTuneAugment<64, Lite0>::out_height == 64 && train::FineTuneEvaluate<96, Lite0>::out_width == 96);

// The blog's run as a policy: no head phase, BatchNorm trained, batch 64, two epochs, the best epoch kept.
struct Blog : train::FineTune<optim::Sgd<optim::Momentum<0.9>, optim::Group<optim::BackbonePart, optim::Lr<1e-2>>,
                                         optim::Group<optim::HeadPart, optim::Lr<1e-3>>>,
                              train::MinEpochs<2>, train::Augment<train::FineTuneAugment>, train::Evaluate<train::FineTuneEvaluate>> {};
static_assert(train::FineTunePolicy<Blog>);
static_assert(std::is_void_v<Blog::head_first>);
static_assert(Blog::batch_norm::mode == train::BatchNormMode::train);
static_assert(Blog::batch_size == 64 && Blog::min_epochs == 2 && Blog::min_steps == 0 && Blog::label_smoothing == 0);
static_assert(!Blog::keep_final && !Blog::channels_last);
}  // namespace

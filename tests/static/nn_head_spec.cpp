// Compile-only tests of heads, model specs and parameter-group recipes: if it compiles, they pass.
#include <ftmeta/nn/model_spec.hpp>
#include <ftmeta/optim/groups.hpp>

#include <type_traits>

namespace {
using namespace ftmeta::nn;
using namespace ftmeta::optim;

// The blog's MLP head, named with a struct so diagnostics print BlogHead.
struct BlogHead : Head<BatchNorm1d, Dropout<0.5>, Linear<512>, BatchNorm1d, ELU, Dropout<0.5>, Linear<Classes>> {};
struct Net : Model<backbones::EfficientNetLite0, AvgPool, BlogHead> {};

static_assert(ModelSpec<Net>);
static_assert(is_head<BlogHead>::value && !is_head<int>::value);
static_assert(Net::feature_width == 1280);
// Widths through the head: 1280 until Linear<512>, then 512, then the class count (runtime).
static_assert(BlogHead::widths(1280)[1] == 1280 && BlogHead::widths(1280)[2] == 512 && BlogHead::widths(1280)[5] == 512);
static_assert(BlogHead::widths(1280)[6] == runtime_width);
// Concat pooling doubles the width the head receives; a stated input width is checked against it.
struct Wide : Model<backbones::EfficientNetLite0, ConcatPool, Head<Linear<Classes, 2560>>> {};
static_assert(Wide::feature_width == 2560);
static_assert(Head<Linear<Classes, 1024>>::first_misfit(1280) == 0);
static_assert(Head<ReLU, Linear<64, 1280>, Linear<Classes>>::first_misfit(1280) == 3);  // fits: none
static_assert(Head<Linear<64>, Linear<Classes, 128>>::first_misfit(1280) == 1);
static_assert(has_parameters_v<Linear<3>> && has_parameters_v<BatchNorm1d> && !has_parameters_v<ELU>);

// The blog's recipe: backbone at 1e-2, head at 1e-3, SGD with momentum 0.9.
struct Recipe : Sgd<Momentum<0.9>, Group<BackbonePart, Lr<1e-2>>, Group<HeadPart, Lr<1e-3>, WeightDecay<1e-4>>> {};
static_assert(ftmeta::meta::size_v<Recipe::groups> == 2);
static_assert(Recipe::momentum == 0.9 && !Recipe::nesterov);
static_assert(ftmeta::meta::at_t<1, Recipe::groups>::lr == 1e-3 && ftmeta::meta::at_t<1, Recipe::groups>::weight_decay == 1e-4);
static_assert(groups_fit_v<Recipe, Net> && groups_cover_v<Recipe, Net>);
static_assert(!groups_cover_v<Sgd<Group<HeadPart, Lr<1e-3>>>, Net>);
static_assert(!groups_fit_v<Sgd<Group<HeadPart, Lr<1e-3>>, Group<HeadPart, Lr<1e-2>>>, Net>);
}  // namespace

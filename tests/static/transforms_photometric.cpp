// Compile-only tests of RandomRotation and ColorJitter in the planner (pure layer): plan types, traits,
// sizes, the folded rotation map and its filled frame, the sampled pixel steps.
#include <ftmeta/transforms/compose.hpp>

#include <type_traits>

namespace {
using namespace ftmeta::transforms;
using ftmeta::meta::TypeList;

struct Classic : Compose<RandomResizedCrop<224>, HFlip, VFlip, RandomRotation<10>, ColorJitter<0.05, 0.05, 0.05, 0.05>,
                         ToTensor, Normalize<>> {};
struct JitterOnly : Compose<ColorJitter<0.4, 0, 0, 0.1>, ToTensor> {};

// The rotation joins the geometric stage (one map, one warp); ColorJitter joins the pixel pass.
static_assert(std::is_same_v<plan_t<Classic>,
                             TypeList<GeometricStage<RandomResizedCrop<224>, HFlip, VFlip, RandomRotation<10>>,
                                      PixelStage<ColorJitter<0.05, 0.05, 0.05, 0.05>, ToTensor, Normalize<>>>>);
static_assert(std::is_same_v<plan_t<JitterOnly>, TypeList<PixelStage<ColorJitter<0.4, 0, 0, 0.1>, ToTensor>>>);
static_assert(Classic::out_height == 224 && Classic::out_width == 224);
static_assert(!Compose<RandomRotation<5>, ToTensor>::fixed_size);  // keeps the input's size

// Traits: rotation is geometric and keeps the size; ColorJitter is a photometric, pointwise image op.
static_assert(OpTraits<RandomRotation<10>>::kind == OpKind::geometric &&
              OpTraits<RandomRotation<10>>::size_rule == SizeRule::keeps);
static_assert(OpTraits<ColorJitter<0.1>>::kind == OpKind::photometric && OpTraits<ColorJitter<0.1>>::pointwise &&
              OpTraits<ColorJitter<0.1>>::input == Domain::image);
static_assert(RandomRotation<10>::degrees == 10.0 && RandomRotation<7.5, 128>::fill == 128);

// The pixel stage: the photometric steps sit before the multiply-add, which folds ToTensor and Normalize.
using ClassicPixels = PixelStage<ColorJitter<0.05, 0.05, 0.05, 0.05>, ToTensor, Normalize<>>;
static_assert(ClassicPixels::photometric && ClassicPixels::channel_affine && ClassicPixels::max_steps == 4);
static_assert(!PixelStage<ToTensor, Normalize<>>::photometric && PixelStage<ToTensor>::max_steps == 0);
constexpr ChannelAffine classic_affine = ClassicPixels::affine();
constexpr ChannelAffine plain_affine = PixelStage<ToTensor, Normalize<>>::affine();
static_assert(classic_affine.scale[0] == plain_affine.scale[0] && classic_affine.bias[2] == plain_affine.bias[2]);

// Sampling: four steps, each kind once, factors in range; an empty range adds no step.
constexpr PixelProgram classic_steps = [] {
  ftmeta::Rng rng(3, 1, 4);
  return ClassicPixels::sample(rng);
}();
constexpr bool each_kind_once = [] {
  int seen[5] = {};
  for (int i = 0; i < classic_steps.size; ++i) ++seen[int(classic_steps.steps[i].kind)];
  return seen[0] == 1 && seen[1] == 1 && seen[2] == 1 && seen[3] == 1 && seen[4] == 0;
}();
static_assert(classic_steps.size == 4 && each_kind_once);
constexpr bool factors_in_range = [] {
  for (int i = 0; i < classic_steps.size; ++i) {
    const PixelStep& s = classic_steps.steps[i];
    if (s.kind == PixelStep::Kind::hue ? (s.factor < -0.05 || s.factor >= 0.05) : (s.factor < 0.95 || s.factor >= 1.05))
      return false;
  }
  return true;
}();
static_assert(factors_in_range);
constexpr int brightness_only_steps = [] {
  ftmeta::Rng rng(1);
  return PixelStage<ColorJitter<0.3>, ToTensor>::sample(rng).size;
}();
static_assert(brightness_only_steps == 1);
// torchvision's hue shift: np.int32(hue * 255) as uint8.
static_assert(hue_shift_of(0.1) == 25 && hue_shift_of(-0.1) == 231 && hue_shift_of(0.5) == 127 && hue_shift_of(0) == 0);

// The rotation map (PIL's rotate, counter-clockwise): the centre stays, and after a quarter turn of a
// square the input's right edge is the top: the output's top-left corner comes from the input's top-right.
constexpr Affine2D quarter = rotation_map({100, 100}, 0.0, 1.0);
static_assert(quarter.a * 50 + quarter.b * 50 + quarter.c == 50 && quarter.d * 50 + quarter.e * 50 + quarter.f == 50);
static_assert(quarter.c == 100 && quarter.f == 0);  // output (0, 0) -> input (100, 0)
static_assert(quarter.a * 100 + quarter.c == 100 && quarter.d * 100 + quarter.f == 100);  // (100, 0) -> (100, 100)
// Folding keeps the filled frame: after a crop and a rotation it maps the output into the rotation's input.
constexpr GeomStep folded = [] {
  GeomStep s = chain(identity_step({400, 600}), CenterCrop<200>::step({}, {400, 600}));
  GeomStep rot{s.out, rotation_map(s.out, 0.0, 1.0)};
  rot.clips = true, rot.fill = 9;
  s = chain(s, rot);
  return chain(s, HFlip::step({true}, s.out));
}();
// Pad: a data-dependent size and an offset; RandomGrayscale: one optional grey step.
static_assert(Pad<3, 5, 7, 9>::step({}, {100, 200}).out == ImageSize{114, 210} &&
              Pad<3, 5, 7, 9>::step({}, {100, 200}).map == Affine2D::scale_offset(1, -3, 1, -5));
static_assert(OpTraits<Pad<2>>::size_rule == SizeRule::data_dependent && !Compose<CenterCrop<32>, Pad<2>, ToTensor>::fixed_size);
static_assert(std::is_same_v<plan_t<Compose<Pad<2>, RandomGrayscale<>, ToTensor>>,
                             TypeList<GeometricStage<Pad<2>>, PixelStage<RandomGrayscale<>, ToTensor>>>);
static_assert(PixelStage<ColorJitter<0.1>, RandomGrayscale<>, ToTensor>::max_steps == 5);

static_assert(folded.clips && folded.fill == 9 && folded.clip_size == ImageSize{200, 200} && !folded.map.axis_aligned());
}  // namespace

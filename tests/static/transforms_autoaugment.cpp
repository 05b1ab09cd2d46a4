// Compile-only tests of TrivialAugmentWide in the planner (pure layer): its traits, the plan it makes
// (its own image stage between the geometric stage and the pixel pass), the op table and describe text.
#include <ftmeta/transforms/autoaugment.hpp>
#include <ftmeta/transforms/compose.hpp>

#include <string_view>
#include <type_traits>

namespace {
using namespace ftmeta::transforms;
using ftmeta::meta::TypeList;

struct WideAug : Compose<RandomResizedCrop<224>, HFlip, TrivialAugmentWide<>, ToTensor, Normalize<>> {};
struct WideOnly : Compose<TrivialAugmentWide<10, 128>, ToTensor> {};
struct WideJitter : Compose<CenterCrop<64>, TrivialAugmentWide<>, ColorJitter<0.1>, ToTensor> {};

// An image op: uint8 image in and out, not pointwise, so it gets a stage of its own.
static_assert(OpTraits<TrivialAugmentWide<>>::kind == OpKind::image);
static_assert(OpTraits<TrivialAugmentWide<>>::input == Domain::image && OpTraits<TrivialAugmentWide<>>::output == Domain::image);
static_assert(!OpTraits<TrivialAugmentWide<>>::pointwise && OpTraits<TrivialAugmentWide<>>::size_rule == SizeRule::keeps);
static_assert(stage_kind_v<TrivialAugmentWide<>> == StageKind::image);

static_assert(std::is_same_v<plan_t<WideAug>, TypeList<GeometricStage<RandomResizedCrop<224>, HFlip>,
                                                        ImageStage<TrivialAugmentWide<31, 0>>,
                                                        PixelStage<ToTensor, Normalize<>>>>);
static_assert(std::is_same_v<plan_t<WideOnly>, TypeList<ImageStage<TrivialAugmentWide<10, 128>>, PixelStage<ToTensor>>>);
static_assert(std::is_same_v<plan_t<WideJitter>, TypeList<GeometricStage<CenterCrop<64>>, ImageStage<TrivialAugmentWide<>>,
                                                           PixelStage<ColorJitter<0.1>, ToTensor>>>);
static_assert(WideAug::out_height == 224 && WideAug::fixed_size && !WideOnly::fixed_size);

// The op table: torchvision's order, which ops draw a bin and a sign.
static_assert(auto_augment_op_count == 14 && std::string_view(op_name(AutoAugmentOp::equalize)) == "Equalize" &&
              std::string_view(op_name(AutoAugmentOp::translate_y)) == "TranslateY");
static_assert(!has_bins(AutoAugmentOp::identity) && !has_bins(AutoAugmentOp::auto_contrast) &&
              has_bins(AutoAugmentOp::posterize) && has_bins(AutoAugmentOp::solarize));
static_assert(is_signed(AutoAugmentOp::shear_x) && is_signed(AutoAugmentOp::sharpness) &&
              !is_signed(AutoAugmentOp::posterize) && !is_signed(AutoAugmentOp::solarize) && !is_signed(AutoAugmentOp::equalize));
// Ends of the wide ranges (exact in float32), Posterize's bits, a negated draw.
static_assert(wide_magnitude(AutoAugmentOp::rotate, 30, 31) == 135.0 && wide_magnitude(AutoAugmentOp::rotate, 20, 31) == 90.0);
static_assert(wide_magnitude(AutoAugmentOp::translate_x, 30, 31) == 32.0 && wide_magnitude(AutoAugmentOp::shear_y, 0, 31) == 0.0);
static_assert(wide_magnitude(AutoAugmentOp::solarize, 0, 31) == 255.0 && wide_magnitude(AutoAugmentOp::solarize, 30, 31) == 0.0);
static_assert(wide_magnitude(AutoAugmentOp::posterize, 0, 31) == 8 && wide_magnitude(AutoAugmentOp::posterize, 30, 31) == 2 &&
              wide_magnitude(AutoAugmentOp::posterize, 12, 31) == 6 && wide_magnitude(AutoAugmentOp::posterize, 1, 2) == 2);
static_assert(TrivialAugmentWide<>::magnitude({AutoAugmentOp::rotate, 30, true}) == -135.0);
static_assert(TrivialAugmentWide<>::magnitude({AutoAugmentOp::equalize, 0, false}) == 0.0);

// Sampling is constexpr and draws a bin and a sign only where torchvision does.
constexpr bool draws_follow_the_table = [] {
  ftmeta::Rng rng(3);
  for (int i = 0; i < 2000; ++i) {
    const AutoAugmentDraw d = TrivialAugmentWide<>::sample(rng);
    if (!has_bins(d.op) && d.bin != 0) return false;
    if (!is_signed(d.op) && d.negative) return false;
    if (d.bin < 0 || d.bin >= 31) return false;
  }
  return true;
}();
static_assert(draws_follow_the_table);

#if FTMETA_CONSTEXPR_DESCRIBE
constexpr bool mentions(std::string_view what) { return describe<WideAug>().find(what) != std::string::npos; }
static_assert(mentions("TrivialAugmentWide(num_magnitude_bins=31, interpolation=nearest, fill=0)"));
static_assert(mentions("plan: 3 stage(s)"));
static_assert(mentions("stage 2: ImageStage[TrivialAugmentWide(num_magnitude_bins=31, interpolation=nearest, fill=0)]: "
                       "1 pass(es) on the uint8 image, between the resample and the pixel pass"));
static_assert(TrivialAugmentWide<10, 128>::name() == "TrivialAugmentWide(num_magnitude_bins=10, interpolation=nearest, fill=128)");
#endif
}  // namespace

namespace {
using namespace ftmeta::transforms;
struct RandAug : Compose<RandomResizedCrop<128>, RandAugment<>, ToTensor> {};
static_assert(std::is_same_v<plan_t<RandAug>, ftmeta::meta::TypeList<GeometricStage<RandomResizedCrop<128>>,
                                                                      ImageStage<RandAugment<2, 9, 31, 0>>, PixelStage<ToTensor>>>);
static_assert(OpTraits<RandAugment<>>::kind == OpKind::image && !OpTraits<RandAugment<>>::pointwise);
// RandAugment's ranges: the translations scale with the image (150/331 of its side).
static_assert(rand_magnitude(AutoAugmentOp::rotate, 30, 31, {}) == 30.0 && rand_magnitude(AutoAugmentOp::shear_x, 0, 31, {}) == 0.0);
static_assert(rand_magnitude(AutoAugmentOp::translate_x, 30, 31, {331, 662}) == 300.0 &&
              rand_magnitude(AutoAugmentOp::translate_y, 30, 31, {331, 662}) == 150.0);
static_assert(rand_magnitude(AutoAugmentOp::posterize, 30, 31, {}) == 4 && rand_magnitude(AutoAugmentOp::posterize, 0, 31, {}) == 8);
constexpr bool rand_draws_use_the_fixed_bin = [] {
  ftmeta::Rng rng(5);
  for (int i = 0; i < 500; ++i)
    for (const AutoAugmentDraw& d : RandAugment<3, 7>::sample(rng).ops)
      if (d.bin != (has_bins(d.op) ? 7 : 0) || (!is_signed(d.op) && d.negative)) return false;
  return true;
}();
static_assert(rand_draws_use_the_fixed_bin);
#if FTMETA_CONSTEXPR_DESCRIBE
static_assert(RandAugment<>::name() == "RandAugment(num_ops=2, magnitude=9, num_magnitude_bins=31, interpolation=nearest, fill=0)");
#endif
}  // namespace

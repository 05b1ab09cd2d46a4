// Compile-only tests of Pad (fill), RandomCrop, RandomAffine, GaussianBlur and RandomErasing in the planner:
// traits, plan types, output sizes, parameter maps and describe text.
#include <ftmeta/transforms/compose.hpp>

#include <string_view>
#include <type_traits>

namespace {
using namespace ftmeta::transforms;
using ftmeta::meta::TypeList;

struct CifarAug : Compose<RandomCrop<32, 32, 4>, HFlip, ToTensor, Normalize<>> {};
struct AffineAug : Compose<Resize<256>, RandomAffine<15, 0.1, 0.1, 0.9, 1.1, 5>, CenterCrop<224>, ToTensor> {};
struct BlurAug : Compose<RandomResizedCrop<96>, ColorJitter<0.4, 0.4>, GaussianBlur<9>, RandomGrayscale<0.2>, ToTensor> {};
struct EraseAug : Compose<RandomResizedCrop<224>, ToTensor, Normalize<>, RandomErasing<0.25>> {};
struct NoiseAug : Compose<Pad<2, 2, 2, 2, 128>, ToTensor, RandomErasing<1.0, 0.1, 0.2, 0.5, 2.0, random_noise>> {};

// Geometric ops fold into the one geometric stage; GaussianBlur joins the pixel stage (as a pass of its
// own); RandomErasing is a tensor stage after the pixel pass.
static_assert(std::is_same_v<plan_t<CifarAug>, TypeList<GeometricStage<RandomCrop<32, 32, 4>, HFlip>,
                                                          PixelStage<ToTensor, Normalize<>>>>);
static_assert(std::is_same_v<plan_t<AffineAug>,
                             TypeList<GeometricStage<Resize<256>, RandomAffine<15, 0.1, 0.1, 0.9, 1.1, 5>, CenterCrop<224>>,
                                      PixelStage<ToTensor>>>);
static_assert(std::is_same_v<plan_t<BlurAug>,
                             TypeList<GeometricStage<RandomResizedCrop<96>>,
                                      PixelStage<ColorJitter<0.4, 0.4>, GaussianBlur<9>, RandomGrayscale<0.2>, ToTensor>>>);
static_assert(std::is_same_v<plan_t<EraseAug>, TypeList<GeometricStage<RandomResizedCrop<224>>,
                                                          PixelStage<ToTensor, Normalize<>>, TensorStage<RandomErasing<0.25>>>>);
static_assert(plan_t<NoiseAug>::size == 3);

// Traits and output sizes.
static_assert(OpTraits<RandomCrop<32>>::size_rule == SizeRule::fixed && OpTraits<RandomCrop<32, 48>>::out_size == ImageSize{32, 48});
static_assert(CifarAug::fixed_size && CifarAug::out_height == 32 && EraseAug::out_width == 224);
static_assert(OpTraits<Pad<1, 2, 3, 4, 9>>::size_rule == SizeRule::data_dependent && !NoiseAug::fixed_size);
static_assert(OpTraits<RandomAffine<10>>::size_rule == SizeRule::keeps && AffineAug::out_height == 224);
static_assert(OpTraits<GaussianBlur<5>>::kind == OpKind::photometric && !OpTraits<GaussianBlur<5>>::pointwise);
static_assert(OpTraits<RandomErasing<>>::input == Domain::tensor && !OpTraits<RandomErasing<>>::pointwise);
static_assert(stage_kind_v<RandomErasing<>> == StageKind::tensor && stage_kind_v<GaussianBlur<3>> == StageKind::pixel);
static_assert(RandomErasing<0.5, 0.02, 0.33, 0.3, 3.3, random_noise>::random && !RandomErasing<>::random);
static_assert(RandomErasing<0.5, 0.02, 0.33, 0.3, 3.3, -1>::value == -1.0);
static_assert(PixelStage<ColorJitter<0.4>, GaussianBlur<9>, ToTensor>::neighbourhood_ops == 1);
static_assert(PixelStage<ColorJitter<0.4>, ToTensor>::neighbourhood_ops == 0);

// RandomCrop's padding as torchvision's: Padding on every side, then a short axis's shortfall on both sides.
static_assert(RandomCrop<32, 32, 4>::padded({32, 32}) == ImageSize{40, 40});
static_assert(RandomCrop<64, 64, 0, true>::padding({50, 100}) == ImageSize{14, 0});
static_assert(RandomCrop<64, 64, 0, true>::padded({50, 100}) == ImageSize{78, 100});
static_assert(RandomCrop<64, 64, 2, true>::padded({30, 70}) == ImageSize{94, 74});
// The step is a pure offset in input pixels, with the padding filled (its frame is the input).
static_assert(RandomCrop<32, 32, 4, false, 7>::step({-3, 2}, {32, 32}).map == Affine2D::scale_offset(1, 2, 1, -3));
static_assert(RandomCrop<32, 32, 4, false, 7>::step({-3, 2}, {32, 32}).clips &&
              RandomCrop<32, 32, 4, false, 7>::step({-3, 2}, {32, 32}).fill == 7);
static_assert(!RandomCrop<32>::step({1, 2}, {40, 40}).clips);  // no padding: never outside the input
// Pad with a fill: the region outside the input, filled; a zero fill is what lies outside anyway.
static_assert(Pad<1, 2, 3, 4, 9>::step({}, {10, 20}).out == ImageSize{16, 24} && Pad<1, 2, 3, 4, 9>::step({}, {10, 20}).clips);
static_assert(!Pad<1>::step({}, {10, 20}).clips);
// Other padding modes pad the source (the fused kernel's first step), so their steps fill nothing.
static_assert(!Pad<1, 2, 3, 4, 0, PaddingMode::edge>::step({}, {10, 20}).clips &&
              Pad<1, 2, 3, 4, 0, PaddingMode::edge>::border({10, 20}) == Border{2, 4, 1, 3});
static_assert(RandomCrop<64, 64, 2, true, 0, PaddingMode::reflect>::border({30, 70}) == Border{32, 32, 2, 2});
static_assert(!RandomCrop<32, 32, 4, false, 0, PaddingMode::reflect>::step({-3, 2}, {32, 32}).clips);

#if FTMETA_CONSTEXPR_DESCRIBE
// Names as torchvision prints its arguments (more in the unit tests: GCC 12 cannot build every name at compile time), and the plan says where the blur and the erasing run.
static_assert(std::string_view(RandomCrop<32, 32, 4>::name()) == "RandomCrop(32, padding=4)");
static_assert(std::string_view(GaussianBlur<9>::name()) == "GaussianBlur(kernel_size=9, sigma=(0.1, 2))");
static_assert(std::string_view(RandomAffine<15, 0.1, 0.2, 0.9, 1.1, 5, 3, 128>::name()) ==
              "RandomAffine(degrees=15, translate=(0.1, 0.2), scale=(0.9, 1.1), shear=(5, 3), fill=128)");
static_assert(std::string_view(RandomErasing<>::name()) == "RandomErasing(p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0)");
constexpr bool says(std::string_view text, std::string_view what) { return text.find(what) != std::string_view::npos; }
static_assert(says(describe<BlurAug>(), "1 blur pass(es) on the resampled uint8 image"));
static_assert(says(describe<EraseAug>(), "TensorStage[RandomErasing(p=0.25, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0)]: in place"));
static_assert(says(describe<CifarAug>(), "GeometricStage[RandomCrop(32, padding=4), RandomHorizontalFlip(p=0.5)]: one 2x3 map"));
#endif
}  // namespace

// Compile-only tests of the transforms planner (pure layer): plan types, output sizes, describe text.
#include <ftmeta/transforms/compose.hpp>

#include <string_view>
#include <type_traits>

namespace {
using namespace ftmeta::transforms;
using ftmeta::meta::TypeList;

struct TrainAug : Compose<RandomResizedCrop<224>, HFlip, ToTensor, Normalize<>> {};
struct EvalAug : Compose<Resize<256>, CenterCrop<224>, ToTensor, Normalize<ImageNet>> {};
struct ResizeOnly : Compose<Resize<256>, ToTensor> {};
struct TensorOnly : Compose<ToTensor, Normalize<>> {};
struct Wide : Compose<Resize<300, 400>, VFlip, CenterCrop<200, 320>, RandomHorizontalFlip<0.25>, ToTensor> {};
struct CropThenResize : Compose<CenterCrop<500>, Resize<128>, ToTensor> {};

struct HalfStats {
  static constexpr double mean[3] = {0.5, 0.5, 0.5};
  static constexpr double std[3] = {0.5, 0.5, 0.5};
};
struct HalfAug : Compose<RandomResizedCrop<64, 96>, ToTensor, Normalize<HalfStats>> {};

// Plans, as types: geometric ops fold into one stage, ToTensor and Normalize into one pixel pass.
static_assert(std::is_same_v<plan_t<TrainAug>, TypeList<GeometricStage<RandomResizedCrop<224>, HFlip>,
                                                         PixelStage<ToTensor, Normalize<ImageNet>>>>);
static_assert(std::is_same_v<plan_t<EvalAug>, TypeList<GeometricStage<Resize<256>, CenterCrop<224>>,
                                                        PixelStage<ToTensor, Normalize<>>>>);
static_assert(std::is_same_v<plan_t<TensorOnly>, TypeList<PixelStage<ToTensor, Normalize<>>>>);
static_assert(std::is_same_v<plan_t<Wide>, TypeList<GeometricStage<Resize<300, 400>, VFlip, CenterCrop<200, 320>,
                                                                     RandomHorizontalFlip<0.25>>,
                                                      PixelStage<ToTensor>>>);
// A plain Compose is a pipeline too, and derivation changes nothing.
static_assert(std::is_same_v<plan_t<Compose<HFlip, ToTensor>>, TypeList<GeometricStage<HFlip>, PixelStage<ToTensor>>>);
static_assert(std::is_same_v<TrainAug::ops, TypeList<RandomResizedCrop<224>, HFlip, ToTensor, Normalize<>>>);
static_assert(Pipeline<TrainAug> && Pipeline<Compose<ToTensor>> && !Pipeline<HFlip>);

// Output sizes: set by the last size-setting op; 0 where the input decides.
static_assert(TrainAug::out_height == 224 && TrainAug::out_width == 224 && TrainAug::fixed_size);
static_assert(EvalAug::out_height == 224 && EvalAug::out_width == 224);
static_assert(ResizeOnly::out_height == 0 && ResizeOnly::out_width == 0 && !ResizeOnly::fixed_size);
static_assert(TensorOnly::out_height == 0 && !TensorOnly::fixed_size);
static_assert(Wide::out_height == 200 && Wide::out_width == 320);
static_assert(CropThenResize::out_height == 0);  // Resize after the crop depends on the crop's aspect
static_assert(HalfAug::out_height == 64 && HalfAug::out_width == 96);

// Traits, read through derivation.
static_assert(OpTraits<HFlip>::kind == OpKind::geometric && OpTraits<HFlip>::size_rule == SizeRule::keeps);
static_assert(OpTraits<Resize<256>>::size_rule == SizeRule::data_dependent);
static_assert(OpTraits<Resize<32, 48>>::out_size == ImageSize{32, 48});
static_assert(OpTraits<ToTensor>::input == Domain::image && OpTraits<ToTensor>::output == Domain::tensor);
static_assert(OpTraits<Normalize<>>::input == Domain::tensor && OpTraits<Normalize<>>::pointwise);
static_assert(!TransformOp<int> && TransformOp<VFlip> && op_kind_v<float> == OpKind::invalid);
static_assert(std::is_empty_v<HFlip> && std::is_empty_v<TrainAug>);

// The folded pixel pass: ToTensor then Normalize is one multiply-add per channel.
constexpr ChannelAffine half = plan_t<HalfAug>::size == 2 ? PixelStage<ToTensor, Normalize<HalfStats>>::affine()
                                                          : ChannelAffine{};
static_assert(half.scale[0] > 2 / 255.0 - 1e-12 && half.scale[0] < 2 / 255.0 + 1e-12 && half.bias[1] == -1.0);

// Geometry: maps compose, torchvision's rounding and sizes.
static_assert(round_half_even(0.5) == 0 && round_half_even(1.5) == 2 && round_half_even(2.5) == 2 &&
              round_half_even(-0.5) == 0 && round_half_even(2.6) == 3);
static_assert(center_crop_offset(256, 224) == 16 && center_crop_offset(225, 224) == 0 &&
              center_crop_offset(227, 224) == 2 && center_crop_offset(200, 224) == -12 &&
              center_crop_offset(201, 224) == -11);
static_assert(Resize<256>::output_size({480, 640}) == ImageSize{256, 341});
static_assert(Resize<256>::output_size({640, 480}) == ImageSize{341, 256});
static_assert(compose_maps(Affine2D::scale_offset(2, 10, 3, 20), Affine2D::scale_offset(-1, 5, 1, 1)) ==
              Affine2D::scale_offset(-2, 20, 3, 23));
constexpr GeomStep eval_step = [] {
  ftmeta::Rng rng(1);
  return GeometricStage<Resize<256>, CenterCrop<224>>::sample(rng, {512, 1024});  // constexpr: no random ops
}();
static_assert(eval_step.out == ImageSize{224, 224} && eval_step.map == Affine2D::scale_offset(2, 2 * 144, 2, 2 * 16));


// What a first op reads is a trait (the loader's reduced-resolution decoding asks OpTraits, never the op's
// member names): RandomResizedCrop's smallest box, Resize's whole image; derived ops inherit it.
constexpr DecodeHint rrc_hint = OpTraits<RandomResizedCrop<224>>::decode_hint;
static_assert(rrc_hint.known() && rrc_hint.out_side == 224 && rrc_hint.min_area == 0.08 && rrc_hint.min_aspect == 3.0 / 4.0);
static_assert(OpTraits<RandomResizedCrop<64, 96, 0.25, 1.0, 0.5, 1.5>>::decode_hint.out_side == 96 &&
              OpTraits<RandomResizedCrop<64, 96, 0.25, 1.0, 0.5, 1.5>>::decode_hint.min_aspect == 0.5);
static_assert(OpTraits<RandomResizedCrop<32, 32, 0.5, 1.0, 0.9, 1.25>>::decode_hint.min_aspect == 1.0 / 1.25);
static_assert(OpTraits<Resize<256>>::decode_hint.out_side == 256 && OpTraits<Resize<256>>::decode_hint.min_area == 1.0);
static_assert(OpTraits<Resize<300, 400>>::decode_hint.out_side == 400);
struct MyCrop : RandomResizedCrop<128, 128, 0.3> {};
static_assert(OpTraits<MyCrop>::decode_hint.out_side == 128 && OpTraits<MyCrop>::decode_hint.min_area == 0.3);
static_assert(!OpTraits<HFlip>::decode_hint.known() && !OpTraits<CenterCrop<224>>::decode_hint.known() &&
              !OpTraits<ToTensor>::decode_hint.known());

// describe() names the ops and the stages they fold into (checked at run time too, in transforms_execute).
#if FTMETA_CONSTEXPR_DESCRIBE
constexpr bool mentions(std::string_view what) { return describe<TrainAug>().find(what) != std::string::npos; }
static_assert(mentions("TrainAug = Compose(RandomResizedCrop(224, scale=(0.08, 1), ratio=(3/4, 4/3)) -> "
                       "RandomHorizontalFlip(p=0.5) -> ToTensor -> Normalize(ImageNet))"));
static_assert(mentions("2 stage(s)") && mentions("GeometricStage[RandomResizedCrop(224") &&
              mentions("PixelStage[ToTensor, Normalize(ImageNet)]") && mentions("[3, 224, 224]"));
static_assert(ResizeOnly::describe().find("[3, H, W]") != std::string::npos);
static_assert(Wide::describe().find("RandomHorizontalFlip(p=0.25)") != std::string::npos);
#endif
}  // namespace

// Compile-only tests of the timm backbone descriptors (nn/timm_spec.hpp, pure): stages of keys, timm's channel rounding.
#include <ftmeta/nn/timm_spec.hpp>

namespace {
using namespace ftmeta::nn;

static_assert(BackboneDescriptor<backbones::MobileNetV3Small> && BackboneDescriptor<backbones::MobileNetV3Large> &&
              BackboneDescriptor<backbones::EfficientNetB0> && BackboneDescriptor<backbones::ConvNeXtTiny> &&
              BackboneDescriptor<backbones::ViTSmall16>);
static_assert(backbones::EfficientNetB0::stage_of("blocks.6.0.conv_pwl.weight") == "stage7");
static_assert(backbones::EfficientNetB0::stage_of("blocks.7.0.conv_pwl.weight").empty());
static_assert(backbones::EfficientNetB0::stage_of("bn2.running_var") == "head");
static_assert(backbones::MobileNetV3Small::stage_of("blocks.5.0.conv.weight") == "stage6");
static_assert(backbones::MobileNetV3Small::stage_of("blocks.6.0.conv.weight").empty());
static_assert(backbones::MobileNetV3Large::stage_of("conv_head.bias") == "head");
static_assert(backbones::ConvNeXtTiny::stage_of("stages.2.blocks.8.gamma") == "stage3");
static_assert(backbones::ConvNeXtTiny::stage_of("head.fc.weight").empty());
static_assert(backbones::ViTSmall16::stage_of("pos_embed") == "embed");
static_assert(backbones::ViTSmall16::stage_of("blocks.11.attn.qkv.weight") == "block12");
static_assert(backbones::ViTSmall16::stage_of("head.weight").empty());
static_assert(detail::make_divisible8(24 * 3.67) == 88);
static_assert(detail::make_divisible8(18) == 24);
}  // namespace

// Compile-only test: nn/preprocess.hpp (and its JSON reader) is pure: it builds without LibTorch.
#include <ftmeta/nn/preprocess.hpp>
#include <ftmeta/nn/timm_spec.hpp>

#include <type_traits>

namespace {
using namespace ftmeta::nn;
static_assert(std::is_same_v<decltype(preprocessing_of<backbones::ViTSmall16>()), Preprocessing>);
static_assert(std::is_same_v<decltype(Preprocessing{}.eval_pipeline().resize_shorter), std::int64_t>);
static_assert(backbones::ConvNeXtTiny::crop_pct == 0.95 && backbones::ViTSmall16::interpolation == "bicubic");
}  // namespace

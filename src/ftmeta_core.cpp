// src/ftmeta_core.cpp: ftmeta's non-template core compiled once: the ftmeta::core library
// (FTMETA_SEPARATE_COMPILATION; core/config.hpp). Header-only builds include the same files inline.
#if !defined(FTMETA_SEPARATE_COMPILATION)
#error "src/ftmeta_core.cpp: compile it with FTMETA_SEPARATE_COMPILATION (link ftmeta::core), or use ftmeta header-only"
#endif

#include <ftmeta/data/impl/image_folder.ipp>
#include <ftmeta/data/impl/loader.ipp>
#include <ftmeta/data/impl/split.ipp>
#include <ftmeta/data/impl/splits.ipp>
#include <ftmeta/data/impl/idx.ipp>
#include <ftmeta/nn/impl/convnext.ipp>
#include <ftmeta/nn/impl/efficientnet_lite.ipp>
#include <ftmeta/nn/impl/mobilenet.ipp>
#include <ftmeta/nn/impl/resnet.ipp>
#include <ftmeta/nn/impl/timm_efficientnet.ipp>
#include <ftmeta/nn/impl/vit.ipp>
#include <ftmeta/nn/impl/weights.ipp>
#include <ftmeta/optim/impl/optimizer.ipp>
#include <ftmeta/train/impl/fine_tune.ipp>
#include <ftmeta/train/impl/trainer_core.ipp>
#include <ftmeta/transforms/kernels/impl/resample.ipp>
#include <ftmeta/transforms/kernels/neighbourhood.hpp>

// The pixel pass (and its form with blurs) for the two outputs there are; the headers declare these
// instances extern under FTMETA_SEPARATE_COMPILATION, so no other TU compiles them.
namespace ftmeta::transforms::detail {
template void pixel_pass<float>(const Resampled&, const PixelProgram&, const ChannelAffine&, float*);
template void pixel_pass<std::uint8_t>(const Resampled&, const PixelProgram&, const ChannelAffine&, std::uint8_t*);
template void pixel_pass_with_blurs<float>(const Resampled&, const PixelProgram&, const ChannelAffine&, float*);
template void pixel_pass_with_blurs<std::uint8_t>(const Resampled&, const PixelProgram&, const ChannelAffine&, std::uint8_t*);
}  // namespace ftmeta::transforms::detail

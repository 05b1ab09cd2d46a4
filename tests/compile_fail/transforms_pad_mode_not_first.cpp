// expect: a Pad or RandomCrop with a padding mode other than constant must be the first op
// needs: torch
// The fused kernel pads the source image for edge/reflect/symmetric padding, so such a Pad comes first.
#include <ftmeta/transforms/execute.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<HFlip, Pad<4, 4, 4, 4, 0, PaddingMode::reflect>, ToTensor> {};
#else
struct Aug : Compose<Pad<4, 4, 4, 4, 0, PaddingMode::reflect>, HFlip, ToTensor> {};
#endif
torch::Tensor run(const cv::Mat& image, ftmeta::Rng& rng) { return apply<Aug>(image, rng); }

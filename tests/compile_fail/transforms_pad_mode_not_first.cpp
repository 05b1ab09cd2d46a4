// expect: Compose<\.\.\.>: a Pad or RandomCrop with a padding mode other than constant must be the first op
// The fused kernel pads the source image for edge/reflect/symmetric padding, so such a Pad comes first.
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<HFlip, Pad<4, 4, 4, 4, 0, PaddingMode::reflect>, ToTensor> {};
#else
struct Aug : Compose<Pad<4, 4, 4, 4, 0, PaddingMode::reflect>, HFlip, ToTensor> {};
#endif
// No apply call: the declaration alone is checked (no torch, no OpenCV on the include path).
constexpr int out_height = Aug::out_height;

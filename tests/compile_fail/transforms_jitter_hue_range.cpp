// expect: ColorJitter<B, C, S, H>: hue must be in
// torchvision's hue range is at most half a turn each way.
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<ColorJitter<0.1, 0.1, 0.1, 0.6>, ToTensor> {};
#else
struct Aug : Compose<ColorJitter<0.1, 0.1, 0.1, 0.5>, ToTensor> {};
#endif
static_assert(!Aug::fixed_size);

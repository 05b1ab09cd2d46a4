// expect: RandomErasing<P, ScaleLo, ScaleHi, RatioLo, RatioHi, ...>: need 0 < RatioLo <= RatioHi
// ratio=(lo, hi) is a range of positive aspect ratios.
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<ToTensor, RandomErasing<0.5, 0.02, 0.33, 0.0, 3.3>> {};
#else
struct Aug : Compose<ToTensor, RandomErasing<0.5, 0.02, 0.33, 0.3, 3.3>> {};
#endif
static_assert(sizeof(Aug) > 0);

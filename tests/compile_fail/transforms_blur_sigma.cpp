// expect: GaussianBlur<Kernel, SigmaLo, SigmaHi>: need 0 < SigmaLo <= SigmaHi
// sigma=(lo, hi) is a range of positive values.
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<GaussianBlur<5, 2.0, 1.0>, ToTensor> {};
#else
struct Aug : Compose<GaussianBlur<5, 1.0, 2.0>, ToTensor> {};
#endif
static_assert(sizeof(Aug) > 0);

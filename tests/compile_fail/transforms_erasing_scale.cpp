// expect: RandomErasing<P, ScaleLo, ScaleHi, ...>: need 0 < ScaleLo <= ScaleHi <= 1
// scale=(lo, hi) are fractions of the area.
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<ToTensor, RandomErasing<0.5, 0.4, 0.2>> {};
#else
struct Aug : Compose<ToTensor, RandomErasing<0.5, 0.2, 0.4>> {};
#endif
static_assert(sizeof(Aug) > 0);

// expect: RandomAffine<Degrees, TranslateX, TranslateY, ScaleLo, ScaleHi, ...>: need 0 < ScaleLo <= ScaleHi
// The scale range must be a range of positive factors.
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<RandomAffine<10, 0, 0, 1.2, 0.8>, ToTensor> {};
#else
struct Aug : Compose<RandomAffine<10, 0, 0, 0.8, 1.2>, ToTensor> {};
#endif
static_assert(sizeof(Aug) > 0);

// expect: RandomAffine<..., ShearX, ShearY, Fill>: shears are degrees, in .0, 90.
// A 90-degree shear is degenerate (tan is infinite).
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<RandomAffine<0, 0, 0, 1, 1, 90>, ToTensor> {};
#else
struct Aug : Compose<RandomAffine<0, 0, 0, 1, 1, 45>, ToTensor> {};
#endif
static_assert(sizeof(Aug) > 0);

// expect: RandomAffine<Degrees, ...>: Degrees must be in .0, 180.
// torchvision's degrees=D means [-D, D]; more than 180 repeats angles.
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<RandomAffine<200>, ToTensor> {};
#else
struct Aug : Compose<RandomAffine<180>, ToTensor> {};
#endif
static_assert(sizeof(Aug) > 0);

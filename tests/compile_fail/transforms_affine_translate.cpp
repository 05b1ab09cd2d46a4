// expect: translations are fractions of the size, in .0, 1.
// translate=(a, b) are fractions of the width and height.
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<RandomAffine<10, 1.5>, ToTensor> {};
#else
struct Aug : Compose<RandomAffine<10, 0.5>, ToTensor> {};
#endif
static_assert(sizeof(Aug) > 0);

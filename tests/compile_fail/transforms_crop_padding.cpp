// expect: RandomCrop<H, W, Padding>: Padding must be >= 0
// RandomCrop pads before it crops; a negative padding means nothing.
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<RandomCrop<32, 32, -4>, ToTensor> {};
#else
struct Aug : Compose<RandomCrop<32, 32, 4>, ToTensor> {};
#endif
static_assert(sizeof(Aug) > 0);

// expect: image ops .resizes, crops, flips. must come before ToTensor
// GaussianBlur works on the uint8 image, so it cannot follow ToTensor.
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<ToTensor, GaussianBlur<3>> {};
#else
struct Aug : Compose<GaussianBlur<3>, ToTensor> {};
#endif
static_assert(sizeof(Aug) > 0);

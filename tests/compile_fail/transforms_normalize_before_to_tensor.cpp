// expect: Normalize \(a tensor op\) must come after ToTensor
// Normalize works on the float tensor, so it cannot run on the image.
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<RandomResizedCrop<224>, Normalize<>, ToTensor> {};
#else
struct Aug : Compose<RandomResizedCrop<224>, ToTensor, Normalize<>> {};
#endif
static_assert(Aug::out_height == 224);

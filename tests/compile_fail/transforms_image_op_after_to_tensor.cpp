// expect: image ops \(resizes, crops, flips\) must come before ToTensor
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<RandomResizedCrop<224>, ToTensor, HFlip, Normalize<>> {};
#else
struct Aug : Compose<RandomResizedCrop<224>, HFlip, ToTensor, Normalize<>> {};
#endif
static_assert(Aug::out_height == 224);

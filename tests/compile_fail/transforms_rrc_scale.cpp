// expect: need 0 < ScaleLo <= ScaleHi and 0 < RatioLo <= RatioHi
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<RandomResizedCrop<224, 224, 0.9, 0.5>, ToTensor> {};
#else
struct Aug : Compose<RandomResizedCrop<224, 224, 0.5, 0.9>, ToTensor> {};
#endif
static_assert(Aug::fixed_size);

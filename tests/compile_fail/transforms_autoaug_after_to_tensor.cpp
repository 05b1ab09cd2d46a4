// expect: image ops \(resizes, crops, flips\) must come before ToTensor
// TrivialAugmentWide works on the uint8 image, as torchvision's does on PIL images.
#include <ftmeta/transforms/autoaugment.hpp>
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<RandomResizedCrop<96>, ToTensor, TrivialAugmentWide<>, Normalize<>> {};
#else
struct Aug : Compose<RandomResizedCrop<96>, TrivialAugmentWide<>, ToTensor, Normalize<>> {};
#endif
static_assert(Aug::out_height == 96);

// expect: Compose<\.\.\.>: image ops \(TrivialAugmentWide, RandAugment\) must come after every geometric op
// The fused kernel resamples first, then runs TrivialAugmentWide on the result, then the pixel pass.
#include <ftmeta/transforms/autoaugment.hpp>
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<TrivialAugmentWide<>, RandomResizedCrop<64>, ToTensor> {};
#else
struct Aug : Compose<RandomResizedCrop<64>, TrivialAugmentWide<>, ToTensor> {};
#endif
// No apply call: the declaration alone is checked (no torch, no OpenCV on the include path).
constexpr int out_height = Aug::out_height;

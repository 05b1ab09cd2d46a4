// expect: TrivialAugmentWide<NumBins, Fill>: NumBins must be at least 2
// One bin would make Posterize's bins divide by zero (torchvision's table is 8 - round(i / ((n - 1) / 6))).
#include <ftmeta/transforms/autoaugment.hpp>
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<CenterCrop<64>, TrivialAugmentWide<1>, ToTensor> {};
#else
struct Aug : Compose<CenterCrop<64>, TrivialAugmentWide<2>, ToTensor> {};
#endif
static_assert(Aug::out_height == 64 && TrivialAugmentWide<2>::num_bins == 2);

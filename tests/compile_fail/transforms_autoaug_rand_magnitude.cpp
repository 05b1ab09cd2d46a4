// expect: RandAugment<NumOps, Magnitude, NumBins, Fill>: need NumBins >= 2 and 0 <= Magnitude < NumBins
// Magnitude is the bin RandAugment uses: it must be one of the NumBins bins.
#include <ftmeta/transforms/autoaugment.hpp>
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<CenterCrop<64>, RandAugment<2, 31>, ToTensor> {};
#else
struct Aug : Compose<CenterCrop<64>, RandAugment<2, 30>, ToTensor> {};
#endif
static_assert(Aug::out_height == 64);

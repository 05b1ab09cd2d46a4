// expect: RandomCrop<H, W, Padding, PadIfNeeded, Fill>: Fill is a grey level
// RandomCrop's padding fill is one grey level.
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<RandomCrop<32, 32, 4, false, -1>, ToTensor> {};
#else
struct Aug : Compose<RandomCrop<32, 32, 4, false, 0>, ToTensor> {};
#endif
static_assert(sizeof(Aug) > 0);

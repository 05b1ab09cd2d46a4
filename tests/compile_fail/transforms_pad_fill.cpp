// expect: Pad<Left, Top, Right, Bottom, Fill>: Fill is a grey level
// Pad's fill is one grey level for all three channels.
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<Pad<4, 4, 4, 4, 300>, ToTensor> {};
#else
struct Aug : Compose<Pad<4, 4, 4, 4, 255>, ToTensor> {};
#endif
static_assert(sizeof(Aug) > 0);

// expect: Pad<Left, Top, Right, Bottom>: paddings must be >= 0
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<Pad<4, -1>, RandomGrayscale<0.2>, ToTensor> {};
#else
struct Aug : Compose<Pad<4, 1>, RandomGrayscale<0.2>, ToTensor> {};
#endif
static_assert(!Aug::fixed_size);

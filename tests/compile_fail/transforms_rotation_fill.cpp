// expect: RandomRotation<Degrees, Fill>: Fill is a grey level
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<RandomRotation<10, 256>, ToTensor> {};
#else
struct Aug : Compose<RandomRotation<10, 255>, ToTensor> {};
#endif
static_assert(!Aug::fixed_size);

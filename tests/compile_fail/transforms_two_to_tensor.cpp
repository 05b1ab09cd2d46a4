// expect: exactly one ToTensor is required
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<HFlip, ToTensor, ToTensor, Normalize<>> {};
#else
struct Aug : Compose<HFlip, ToTensor, Normalize<>> {};
#endif
static_assert(!Aug::fixed_size);

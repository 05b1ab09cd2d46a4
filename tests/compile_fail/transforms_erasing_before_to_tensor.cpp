// expect: must come after ToTensor .it works on tensors., as must RandomErasing
// RandomErasing works on the float tensor (its value is in tensor units).
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<RandomErasing<>, ToTensor> {};
#else
struct Aug : Compose<ToTensor, RandomErasing<>> {};
#endif
static_assert(sizeof(Aug) > 0);

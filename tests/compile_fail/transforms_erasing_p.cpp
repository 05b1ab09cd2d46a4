// expect: RandomErasing<P, ...>: P is a probability
// p is a probability.
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<ToTensor, RandomErasing<1.5>> {};
#else
struct Aug : Compose<ToTensor, RandomErasing<1.0>> {};
#endif
static_assert(sizeof(Aug) > 0);

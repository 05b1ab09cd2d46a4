// expect: every element must be a transform op
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
struct NotAnOp {};
#ifndef FTMETA_CF_OK
struct Aug : Compose<Resize<256>, NotAnOp, ToTensor> {};
#else
struct Aug : Compose<Resize<256>, ToTensor> {};
#endif
static_assert(!Aug::fixed_size);

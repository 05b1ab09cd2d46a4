// expect: exactly one ToTensor is required
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<Resize<256>, CenterCrop<224>, Normalize<>> {};
#else
struct Aug : Compose<Resize<256>, CenterCrop<224>, ToTensor, Normalize<>> {};
#endif
static_assert(Aug::out_width == 224);

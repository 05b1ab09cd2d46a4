// expect: RandomGrayscale<P>: P is a probability
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<CenterCrop<64>, RandomGrayscale<1.5>, ToTensor> {};
#else
struct Aug : Compose<CenterCrop<64>, RandomGrayscale<0.5>, ToTensor> {};
#endif
static_assert(Aug::fixed_size);

// expect: Compose<\.\.\.>: too many photometric steps in one pipeline .at most 16: four ColorJitters.
// The pixel pass holds at most 16 photometric steps per sample; five full ColorJitters draw 20.
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
using Jitter = ColorJitter<0.1, 0.1, 0.1, 0.1>;
#ifndef FTMETA_CF_OK
struct Aug : Compose<CenterCrop<64>, Jitter, Jitter, Jitter, Jitter, Jitter, ToTensor> {};
#else
struct Aug : Compose<CenterCrop<64>, Jitter, Jitter, Jitter, Jitter, ToTensor> {};
#endif

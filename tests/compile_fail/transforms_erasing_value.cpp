// expect: RandomErasing<P, ScaleLo, ScaleHi, RatioLo, RatioHi, Value>: Value is a number or random_noise
// Value is the erased value or random_noise (torchvision's value='random').
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Noise {};
struct Aug : Compose<ToTensor, RandomErasing<0.5, 0.02, 0.33, 0.3, 3.3, Noise{}>> {};
#else
struct Aug : Compose<ToTensor, RandomErasing<0.5, 0.02, 0.33, 0.3, 3.3, random_noise>> {};
#endif
static_assert(sizeof(Aug) > 0);

// expect: Compose<\.\.\.>: RandomErasing must be the last op .after Normalize. for the fused kernel
// The fused kernel erases the finished output: nothing may change values after RandomErasing.
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<RandomResizedCrop<64>, ToTensor, RandomErasing<>, Normalize<>> {};
#else
struct Aug : Compose<RandomResizedCrop<64>, ToTensor, Normalize<>, RandomErasing<>> {};
#endif
// No apply call: the declaration alone is checked (no torch, no OpenCV on the include path).
constexpr int out_height = Aug::out_height;

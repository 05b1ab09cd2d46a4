// expect: Compose<\.\.\.>: photometric ops .ColorJitter. must come before or after all the geometric ops
// The fused kernel runs photometric ops on the source (before the resample) or in the pixel pass (after
// it): one between two geometric ops would split the one resample.
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<RandomResizedCrop<64>, ColorJitter<0.2>, HFlip, ToTensor> {};
#else
struct Aug : Compose<ColorJitter<0.2>, RandomResizedCrop<64>, HFlip, ToTensor> {};
#endif
// No apply call: the declaration alone is checked (no torch, no OpenCV on the include path).
constexpr int out_height = Aug::out_height;

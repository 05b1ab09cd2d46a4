// expect: RandomErasing must be the last op .after Normalize. for the fused kernel
// needs: torch
// The fused kernel erases the finished output: nothing may change values after RandomErasing.
#include <ftmeta/transforms/execute.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<RandomResizedCrop<64>, ToTensor, RandomErasing<>, Normalize<>> {};
#else
struct Aug : Compose<RandomResizedCrop<64>, ToTensor, Normalize<>, RandomErasing<>> {};
#endif
torch::Tensor run(const cv::Mat& image, ftmeta::Rng& rng) { return apply<Aug>(image, rng); }

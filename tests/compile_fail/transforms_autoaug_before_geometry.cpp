// expect: apply<P>: image ops \(TrivialAugmentWide, RandAugment\) must come after every geometric op
// needs: torch
// The fused kernel resamples first, then runs TrivialAugmentWide on the result, then the pixel pass.
#include <ftmeta/transforms/autoaugment_kernels.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<TrivialAugmentWide<>, RandomResizedCrop<64>, ToTensor> {};
#else
struct Aug : Compose<RandomResizedCrop<64>, TrivialAugmentWide<>, ToTensor> {};
#endif
torch::Tensor run(const cv::Mat& image, ftmeta::Rng& rng) { return apply<Aug>(image, rng); }

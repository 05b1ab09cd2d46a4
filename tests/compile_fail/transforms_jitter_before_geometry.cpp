// expect: apply<P>: photometric ops .ColorJitter. must come after every geometric op
// needs: torch
// The fused kernel resamples first, then runs the pixel pass: a photometric op must follow the crops.
#include <ftmeta/transforms/execute.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<ColorJitter<0.2>, RandomResizedCrop<64>, ToTensor> {};
#else
struct Aug : Compose<RandomResizedCrop<64>, ColorJitter<0.2>, ToTensor> {};
#endif
torch::Tensor run(const cv::Mat& image, ftmeta::Rng& rng) { return apply<Aug>(image, rng); }

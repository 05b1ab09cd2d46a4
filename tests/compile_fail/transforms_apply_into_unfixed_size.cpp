// expect: apply_into<P>: P's ops do not fix the output size
// needs: torch
// Resize<256> keeps the aspect ratio, so no fixed-size tensor can take the result: apply<P> allocates.
#include <ftmeta/transforms/apply.hpp>

using namespace ftmeta::transforms;
struct Aug : Compose<Resize<256>, ToTensor, Normalize<>> {};
struct Fixed : Compose<Resize<256>, CenterCrop<224>, ToTensor, Normalize<>> {};

void run(const cv::Mat& image, ftmeta::Rng& rng, torch::Tensor out) {
#ifndef FTMETA_CF_OK
  apply_into<Aug>(image, rng, out);
#else
  apply_into<Fixed>(image, rng, out);
  out = apply<Aug>(image, rng);
#endif
}

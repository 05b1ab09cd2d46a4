// expect: make_loader\(source, transform, size, options\) requires 'transform' to be callable
// needs: torch
// A transform that takes the image by value and forgets the Rng: make_loader names the signature it needs.
#include <ftmeta/data/loader.hpp>

using namespace ftmeta::data;

void build(std::shared_ptr<const SampleSource> source) {
#ifndef FTMETA_CF_OK
  auto loader = make_loader(source, [](cv::Mat, torch::Tensor) {}, {8, 8});
#else
  auto loader = make_loader(source, [](const cv::Mat&, ftmeta::Rng&, torch::Tensor) {}, {8, 8});
#endif
  (void)loader;
}

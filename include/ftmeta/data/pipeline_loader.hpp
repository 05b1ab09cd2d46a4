// ftmeta/data/pipeline_loader.hpp: a Loader over a list of image files that runs a transform pipeline
// type (a Compose) on every sample: the one line every training program needs.
#pragma once

#include <ftmeta/core/rng.hpp>
#include <ftmeta/data/image_folder.hpp>
#include <ftmeta/data/loader.hpp>
#include <ftmeta/data/sources.hpp>
#include <ftmeta/transforms.hpp>

#include <opencv2/core.hpp>
#include <torch/torch.h>

#include <memory>
#include <vector>

namespace ftmeta::data {

/// A loader of `samples` (decoded from their files) through `Pipeline`, batches of
/// [B, 3, Pipeline::out_height, Pipeline::out_width].
///
///   auto train = ftmeta::data::pipeline_loader<TrainAug>(splits.train, {.batch_size = 64, .shuffle = true});
template <class Pipeline>
std::unique_ptr<Loader> pipeline_loader(const std::vector<Sample>& samples, LoaderOptions options = {}) {
  return make_loader(
      std::make_shared<FileSource>(samples),
      [](const cv::Mat& image, Rng& rng, torch::Tensor out) { transforms::apply_into<Pipeline>(image, rng, out); },
      output_size_v<Pipeline>, options);
}

}  // namespace ftmeta::data

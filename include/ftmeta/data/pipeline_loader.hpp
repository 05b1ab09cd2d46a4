// ftmeta/data/pipeline_loader.hpp: a Loader over a list of image files that runs a transform pipeline
// type (a Compose) on every sample, decoding only the part of each image the pipeline reads: the one line
// every training program needs.
#pragma once

#include <ftmeta/core/rng.hpp>
#include <ftmeta/data/image_folder.hpp>
#include <ftmeta/data/loader.hpp>
#include <ftmeta/data/sources.hpp>
#include <ftmeta/transforms.hpp>

#include <opencv2/core.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace ftmeta::data {

/// The part of the image to decode for one planned sample: the source rectangle it reads, at 1/2 or 1/4
/// scale where it reads at least 2 or 4 source pixels per output pixel along both axes (used when
/// DecodeOptions::region_scaling allows it), widened by two pixels of the scale it is decoded at.
template <class Pipeline>
DecodeRegion region_to_decode(const transforms::PlannedSample<Pipeline>& sample) {
  const transforms::SourceRegion first = sample.region(2);
  const double step = std::min(first.step_x, first.step_y);
  const int factor = step >= 4 ? 4 : step >= 2 ? 2 : 1;
  const transforms::SourceRegion need = factor == 1 ? first : sample.region(2 * factor);
  return {need.x, need.y, need.width, need.height, factor};
}

/// A loader of `samples` (decoded from their files) through `Pipeline`, batches of
/// [B, 3, Pipeline::out_height, Pipeline::out_width]. Each sample's parameters are drawn from the image
/// size in its header, and only the part of the JPEG they read is decoded (DecodeOptions::region; the
/// same pixels as decoding it whole; with region_scaling, at 1/2 or 1/4 scale where the crop allows).
///
///   auto train = ftmeta::data::pipeline_loader<TrainAug>(splits.train, {.batch_size = 64, .shuffle = true});
template <class Pipeline>
std::unique_ptr<Loader> pipeline_loader(const std::vector<Sample>& samples, LoaderOptions options = {}) {
  RegionTransformFn transform = [](const RegionDecodeFn& decode, Rng& rng, torch::Tensor out) {
    std::optional<transforms::PlannedSample<Pipeline>> planned;
    const RegionImage got = decode([&](std::int64_t width, std::int64_t height) {
      planned.emplace(rng, transforms::ImageSize{static_cast<int>(height), static_cast<int>(width)});
      return region_to_decode(*planned);
    });
    planned->run_into(got.image, static_cast<double>(got.x), static_cast<double>(got.y), got.factor, out);
  };
  return std::make_unique<Loader>(Loader::ByRegion{}, std::make_shared<FileSource>(samples), std::move(transform),
                                  output_size_v<Pipeline>, options);
}

}  // namespace ftmeta::data

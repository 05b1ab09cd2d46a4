// ftmeta/data/loader.hpp: the batch loader: seeded per-epoch order or a sampler, worker threads, prefetch, bad-file policy, pinned memory.
#pragma once

#include <ftmeta/core/config.hpp>
#include <ftmeta/core/error.hpp>
#include <ftmeta/core/rng.hpp>
#include <ftmeta/core/type_list.hpp>
#include <ftmeta/data/sampler.hpp>
#include <ftmeta/data/sources.hpp>
#include <ftmeta/transforms/ops.hpp>

#include <opencv2/core.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace ftmeta::data {

/// What the loader does with a sample its source cannot decode (missing, truncated, not an image).
enum class OnBadSample {
  skip,  ///< count it (LoaderStats::skipped) and fill the batch from the next samples
  fail,  ///< throw FileError naming the file from next()
};

/// Options of a Loader.
struct LoaderOptions {
  std::int64_t batch_size = 32;
  bool shuffle = true;     ///< visit the samples in epoch_permutation(n, seed, epoch) order
  bool drop_last = false;  ///< drop a last batch smaller than batch_size
  std::uint64_t seed = 0;  ///< the order and each sample's Rng::for_sample(seed, epoch, index)
  int num_workers = 1;     ///< decoding threads; 0 decodes in the thread that calls next()
  int prefetch = 2;        ///< batches the workers may prepare ahead of the one next() assembles
  OnBadSample on_bad_sample = OnBadSample::skip;
  /// The epoch order (WeightedSampler, DistributedSampler, your own); empty: epoch_permutation
  /// with `shuffle`. Sample i's k-th visit in an epoch (k = 0, 1, ... when a sampler repeats it)
  /// gets Rng::for_sample(seed, epoch, i + k * n).
  SamplerFn sampler{};
  /// Size limit and reduced-resolution JPEG decoding; see DecodeOptions and decode_options_for.
  DecodeOptions decode{};
  /// Allocate batches in pinned (page-locked) host memory when CUDA is available, so that
  /// Batch::to(device, true) copies asynchronously; ignored without CUDA.
  bool pin_memory = false;
};

/// The size of the images the transform writes: batches are [B, 3, height, width].
struct OutputSize {
  std::int64_t height = 0, width = 0;
};
/// The output size of a transform pipeline type with compile-time `out_height` and `out_width`.
template <class Pipeline>
inline constexpr OutputSize output_size_v{Pipeline::out_height, Pipeline::out_width};

/// One batch: images float32 [B,3,H,W], labels int64 [B], indices int64 [B] (sample indices in the source).
struct Batch {
  torch::Tensor images, labels, indices;
  /// The batch on `device`; with non_blocking and pinned batches (LoaderOptions::pin_memory) the
  /// copy to a CUDA device is asynchronous on the current stream.
  Batch to(const torch::Device& device, bool non_blocking = false) const {
    return {images.to(device, non_blocking), labels.to(device, non_blocking), indices.to(device, non_blocking)};
  }
};

/// What one epoch of a Loader delivered (complete once next() has returned nothing); not train::EpochStats,
/// which is what an epoch of training or evaluation measured.
struct LoaderStats {
  std::int64_t epoch = -1;
  std::int64_t batches = 0, samples = 0;
  std::int64_t skipped = 0;                ///< bad samples skipped (OnBadSample::skip)
  std::vector<std::string> skipped_files;  ///< the first 100 of them, with the reason
  bool finished = false;
};

/// The transform a loader applies: writes sample `img` (8-bit gray, BGR or BGRA, see SampleSource)
/// into `out`, a contiguous float32 [3,H,W] tensor (RGB, as the model takes it), drawing randomness
/// from `rng` only. Called from several threads at once.
using TransformFn = std::function<void(const cv::Mat& img, Rng& rng, torch::Tensor out)>;

/// What a region transform calls, once, to get its sample decoded: it passes its plan (the part of
/// the image it reads, RegionPlanFn) and gets that part (RegionImage). See RegionTransformFn.
using RegionDecodeFn = std::function<RegionImage(const RegionPlanFn& plan)>;

/// A transform that decodes only what it reads (region decoding, DecodeOptions::region): it calls
/// `decode` once with its plan, then writes the sample into `out` as TransformFn does. Called from
/// several threads at once. pipeline_loader<P> makes one from P (transforms::PlannedSample).
using RegionTransformFn = std::function<void(const RegionDecodeFn& decode, Rng& rng, torch::Tensor out)>;

/// A transform callable as void(const cv::Mat&, ftmeta::Rng&, torch::Tensor).
template <class F>
concept SampleTransform = std::invocable<const F&, const cv::Mat&, Rng&, torch::Tensor>;

/// Batches of a SampleSource. Sample i of epoch e always gets Rng::for_sample(seed, e, i), and a
/// batch is always the next batch_size good samples in epoch order, so batches are identical for
/// any num_workers. Workers decode into per-batch tensors ahead of the consumer (prefetch); a batch
/// without skipped samples is handed out without a copy.
///
///   Loader loader(source, transform, {224, 224}, {.batch_size = 64, .num_workers = 2});
///   for (Batch& b : loader.epoch(3)) { ... }
///   loader.stats().skipped;   // bad files met in epoch 3
///
/// One thread drives a loader (start_epoch, next); its workers are internal. Destroying a loader
/// mid-epoch stops the workers once their current sample is done.
class Loader {
 public:
  Loader(std::shared_ptr<const SampleSource> source, TransformFn transform, OutputSize size, LoaderOptions options = {});
  /// A loader whose transform decodes only what it reads (RegionTransformFn); the tag keeps generic
  /// lambdas for the constructor above unambiguous.
  struct ByRegion {};
  Loader(ByRegion, std::shared_ptr<const SampleSource> source, RegionTransformFn transform, OutputSize size,
         LoaderOptions options = {});
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;
  ~Loader();

  const SampleSource& source() const noexcept { return *source_; }
  const LoaderOptions& options() const noexcept { return opt_; }
  OutputSize output_size() const noexcept { return size_; }
  /// Whether batches are allocated in pinned memory (pin_memory and CUDA available).
  bool pinned() const noexcept { return pinned_; }
  /// Batches per epoch when no sample is skipped (with a sampler: of its epoch-0 order).
  std::int64_t batches_per_epoch() const;

  /// Starts (or restarts) epoch `epoch`: fixes its order and lets the workers begin. Work left
  /// from an unfinished epoch is dropped.
  void start_epoch(std::int64_t epoch);

  /// The next batch of the current epoch, or nothing at its end. Throws FileError naming the file
  /// for a bad sample under OnBadSample::fail, and DataError naming the sample when the transform
  /// throws; the epoch then ends.
  std::optional<Batch> next();

  /// The statistics of the current (or last) epoch.
  LoaderStats stats() const;

  /// `for (Batch& b : loader.epoch(e))`: start_epoch(e), then next() until the end.
  class EpochRange {
   public:
    class iterator {
     public:
      using value_type = Batch;
      using difference_type = std::ptrdiff_t;
      iterator() = default;
      explicit iterator(Loader* l) : loader_(l), batch_(l->next()) {}
      Batch& operator*() const { return *batch_; }
      iterator& operator++() {
        batch_ = loader_->next();
        return *this;
      }
      void operator++(int) { ++*this; }
      friend bool operator==(const iterator& it, std::default_sentinel_t) { return !it.batch_; }

     private:
      Loader* loader_ = nullptr;
      mutable std::optional<Batch> batch_;
    };
    EpochRange(Loader& l, std::int64_t e) : loader_(&l), epoch_(e) {}
    iterator begin() {
      loader_->start_epoch(epoch_);
      return iterator(loader_);
    }
    std::default_sentinel_t end() const { return {}; }

   private:
    Loader* loader_;
    std::int64_t epoch_;
  };
  EpochRange epoch(std::int64_t e) { return EpochRange(*this, e); }

 private:
  enum State : std::uint8_t { pending, good, bad, failed };
  // The samples at positions [first, first + count) of an epoch, decoded into one batch tensor.
  struct Chunk {
    std::int64_t first = 0, count = 0;
    torch::Tensor images;
    std::vector<std::int64_t> index;  // sample index per row
    std::vector<State> state;         // guarded by m_
    std::vector<std::string> why;     // written by the row's worker before its state
  };

  std::shared_ptr<Chunk> chunk_for(std::int64_t pos);  // m_ held

  // A batch tensor of `count` rows: a spare one nobody holds any more, else a new one (m_ held).
  torch::Tensor batch_tensor(std::int64_t count);

  // Decodes and transforms one sample into its row; records the outcome under m_.
  void process(Chunk& chunk, std::int64_t row, std::int64_t idx, std::uint64_t key, std::int64_t epoch);

  // process() with a region transform: the source decodes the part the transform's plan reads.
  struct BadSample {};  // thrown through the transform when the source gives no image
  void process_region(State& state, std::string& why, std::int64_t row, Chunk& chunk, std::int64_t idx, std::uint64_t key,
                      std::int64_t epoch);

  void work();

  std::int64_t window_end() const {  // m_ held: workers stay within prefetch batches of the consumer
    return (consume_ / opt_.batch_size + 1 + opt_.prefetch) * opt_.batch_size;
  }

  void end_epoch_locked();

  std::shared_ptr<const SampleSource> source_;
  TransformFn transform_;
  RegionTransformFn region_transform_;  // set: used instead of transform_
  OutputSize size_;
  LoaderOptions opt_;

  mutable std::mutex m_;
  std::condition_variable work_cv_, done_cv_;
  bool stop_ = false, active_ = false, started_ = false;
  std::int64_t epoch_ = 0, n_ = 0, claim_ = 0, consume_ = 0;
  std::vector<std::int64_t> perm_;
  std::vector<std::uint64_t> keys_;  // per position: the sample's Rng counter (index + visit * n)
  bool pinned_ = false;
  std::map<std::int64_t, std::shared_ptr<Chunk>> chunks_;
  // Batch tensors handed out, kept for reuse once the caller has dropped every reference to them (not
  // for pinned batches, whose asynchronous copies torch's host allocator tracks): writing into pages
  // already mapped saves the page faults of a fresh tensor per batch.
  std::vector<torch::Tensor> spare_;
  LoaderStats stats_;
  std::vector<std::thread> workers_;  // last: started after everything above exists
};

namespace detail {
template <class List>
struct FirstOp {
  using type = void;
};
template <class T, class... Ts>
struct FirstOp<meta::TypeList<T, Ts...>> {
  using type = T;
};
}  // namespace detail

/// DecodeOptions that let a loader decode JPEGs at reduced resolution for pipeline P, derived from
/// what P's first op reads (its OpTraits<Op>::decode_hint): RandomResizedCrop<H, W, ...>
/// (min_side max(H, W), min_crop_fraction sqrt(scale_lo * min(ratio_lo, 1 / ratio_hi)), with the
/// defaults sqrt(0.08 * 3/4) ~ 0.245)
/// or Resize<S> / Resize<H, W> (min_side S or max(H, W), fraction 1); any other first op: off.
/// It also turns on DecodeOptions::region_scaling (pipeline_loader: the part of the JPEG a sample reads,
/// at 1/2 or 1/4 where that sample's crop allows; min_side then serves the other loaders).
/// Reduced decoding changes pixels (the JPEG decoder's DCT scaling replaces part of the resize),
/// so it is opt-in: results are no longer bit-equal to decoding at full resolution.
///
///   LoaderOptions o{.decode = decode_options_for<TrainAug<224>>()};
template <class P>
DecodeOptions decode_options_for(std::int64_t max_pixels = 0) {
  using First = typename detail::FirstOp<typename P::ops>::type;
  DecodeOptions d{};
  if constexpr (transforms::TransformOp<First>) {  // the op says what it reads: OpTraits<First>::decode_hint
    constexpr transforms::DecodeHint hint = transforms::OpTraits<First>::decode_hint;
    if constexpr (hint.known())
      d = {0, hint.out_side, std::min(1.0, std::sqrt(hint.min_area * hint.min_aspect))};
  }
  if (d.min_side == 0) d.min_crop_fraction = 1.0;
  d.max_pixels = max_pixels;
  d.region_scaling = true;
  return d;
}

/// The typed entry point: checks the transform's signature once, then builds the type-erased Loader.
///
///   auto loader = ftmeta::data::make_loader(source, [](const cv::Mat& m, ftmeta::Rng& r, torch::Tensor out) {
///     ftmeta::transforms::apply_into<MyPipeline>(m, r, out);
///   }, ftmeta::data::output_size_v<MyPipeline>, {.batch_size = 64});
template <class Transform>
std::unique_ptr<Loader> make_loader(std::shared_ptr<const SampleSource> source, Transform transform, OutputSize size,
                                    LoaderOptions options = {}) {
  if constexpr (!SampleTransform<Transform>) {
    static_assert(SampleTransform<Transform>,
                  "ftmeta::data::make_loader(source, transform, size, options) requires 'transform' to be callable as "
                  "void(const cv::Mat&, ftmeta::Rng&, torch::Tensor); wrap a pipeline as "
                  "[](auto& m, auto& r, auto out) { ftmeta::transforms::apply_into<P>(m, r, out); }");
    return nullptr;
  } else {
    return std::make_unique<Loader>(std::move(source), TransformFn(std::move(transform)), size, options);
  }
}

}  // namespace ftmeta::data

#if !defined(FTMETA_SEPARATE_COMPILATION)
#include <ftmeta/data/impl/loader.ipp>
#endif

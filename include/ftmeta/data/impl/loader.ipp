// ftmeta/data/impl/loader.ipp: the definitions of Loader's members (data/loader.hpp): included by that
// header when header-only, compiled once by src/ftmeta_core.cpp with FTMETA_SEPARATE_COMPILATION.
#pragma once

#include <ftmeta/data/loader.hpp>

namespace ftmeta::data {

FTMETA_DECL Loader::Loader(std::shared_ptr<const SampleSource> source, TransformFn transform, OutputSize size, LoaderOptions options)
    : source_(std::move(source)), transform_(std::move(transform)), size_(size), opt_(options) {
  if (!source_) throw UsageError("Loader: the source is null");
  if (!transform_) throw UsageError("Loader: the transform is empty");
  if (size_.height < 1 || size_.width < 1)
    throw UsageError("Loader: OutputSize must be positive (got " + std::to_string(size_.height) + "x" +
                     std::to_string(size_.width) + ")");
  if (opt_.batch_size < 1) throw UsageError("Loader: LoaderOptions::batch_size must be at least 1");
  if (opt_.num_workers < 0) throw UsageError("Loader: LoaderOptions::num_workers must be >= 0 (0: no threads)");
  if (opt_.prefetch < 0) throw UsageError("Loader: LoaderOptions::prefetch must be >= 0");
  if (opt_.decode.max_pixels < 0 || opt_.decode.min_side < 0 || !(opt_.decode.min_crop_fraction > 0.0))
    throw UsageError("Loader: LoaderOptions::decode needs max_pixels >= 0, min_side >= 0, min_crop_fraction > 0");
  pinned_ = opt_.pin_memory && torch::cuda::is_available();
  for (int i = 0; i < opt_.num_workers; ++i) workers_.emplace_back([this] { work(); });
}

FTMETA_DECL Loader::Loader(ByRegion, std::shared_ptr<const SampleSource> source, RegionTransformFn transform, OutputSize size,
                          LoaderOptions options)
    : Loader(std::move(source), TransformFn([](const cv::Mat&, Rng&, torch::Tensor) {}), size, options) {
  if (!transform) throw UsageError("Loader: the region transform is empty");
  // set before any epoch starts, so the workers (waiting for start_epoch) see it under m_
  std::lock_guard lk(m_);
  region_transform_ = std::move(transform);
}

FTMETA_DECL Loader::~Loader() {
  {
    std::lock_guard lk(m_);
    stop_ = true;
  }
  work_cv_.notify_all();
  done_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

FTMETA_DECL std::int64_t Loader::batches_per_epoch() const {
  const auto n = opt_.sampler ? static_cast<std::int64_t>(opt_.sampler(source_->size(), opt_.seed, 0).size())
                              : source_->size();
  const auto b = opt_.batch_size;
  return opt_.drop_last ? n / b : (n + b - 1) / b;
}

FTMETA_DECL void Loader::start_epoch(std::int64_t epoch) {
  const auto size = source_->size();
  auto order = opt_.sampler ? opt_.sampler(size, opt_.seed, static_cast<std::uint64_t>(epoch))
                            : epoch_permutation(size, opt_.seed, static_cast<std::uint64_t>(epoch), opt_.shuffle);
  std::vector<std::uint64_t> keys(order.size());
  {
    std::map<std::int64_t, std::uint64_t> seen;  // only needed when the order repeats a sample
    std::vector<bool> visited(static_cast<std::size_t>(size), false);
    for (std::size_t j = 0; j < order.size(); ++j) {
      const auto i = order[j];
      if (i < 0 || i >= size)
        throw UsageError("Loader: the sampler gave index " + std::to_string(i) + " for a source of " +
                         std::to_string(size) + " samples");
      std::uint64_t k = 0;
      if (visited[static_cast<std::size_t>(i)]) k = ++seen[i];
      visited[static_cast<std::size_t>(i)] = true;
      keys[j] = static_cast<std::uint64_t>(i) + k * static_cast<std::uint64_t>(size);
    }
  }
  {
    std::lock_guard lk(m_);
    epoch_ = epoch;
    perm_ = std::move(order);
    keys_ = std::move(keys);
    n_ = static_cast<std::int64_t>(perm_.size());
    claim_ = consume_ = 0;
    chunks_.clear();
    stats_ = LoaderStats{};
    stats_.epoch = epoch;
    active_ = started_ = true;
  }
  work_cv_.notify_all();
}

FTMETA_DECL std::optional<Batch> Loader::next() {
  std::vector<std::pair<std::shared_ptr<Chunk>, std::int64_t>> picked;
  std::unique_lock lk(m_);
  if (!started_) throw UsageError("Loader::next() needs start_epoch(epoch) first");
  if (!active_) return std::nullopt;
  const auto batch = opt_.batch_size;
  while (static_cast<std::int64_t>(picked.size()) < batch && consume_ < n_) {
    auto chunk = chunk_for(consume_);
    const auto row = consume_ - chunk->first;
    if (opt_.num_workers == 0 && claim_ == consume_) {
      ++claim_;
      const auto idx = perm_[static_cast<std::size_t>(consume_)];
      const auto key = keys_[static_cast<std::size_t>(consume_)];
      const auto epoch = epoch_;
      lk.unlock();
      process(*chunk, row, idx, key, epoch);
      lk.lock();
    }
    done_cv_.wait(lk, [&] { return chunk->state[static_cast<std::size_t>(row)] != pending; });
    const auto state = chunk->state[static_cast<std::size_t>(row)];
    const auto idx = chunk->index[static_cast<std::size_t>(row)];
    if (state == good) {
      picked.emplace_back(chunk, row);
    } else if (state == bad && opt_.on_bad_sample == OnBadSample::skip) {
      ++stats_.skipped;
      if (stats_.skipped_files.size() < 100)
        stats_.skipped_files.push_back(source_->describe(idx) + " (" + chunk->why[static_cast<std::size_t>(row)] + ")");
    } else {
      const std::string msg = chunk->why[static_cast<std::size_t>(row)];
      end_epoch_locked();
      if (state == bad)
        throw FileError("Loader: cannot read '" + source_->describe(idx) + "' (" + msg +
                        "); use OnBadSample::skip to skip such files");
      throw DataError("Loader: the transform failed on '" + source_->describe(idx) + "': " + msg);
    }
    ++consume_;
    if (consume_ == chunk->first + chunk->count) {
      if (!pinned_) {  // its tensor is reused once the caller has let go of it (batch_tensor)
        if (spare_.size() > static_cast<std::size_t>(opt_.prefetch) + 2) spare_.erase(spare_.begin());
        spare_.push_back(chunk->images);
      }
      chunks_.erase(chunk->first / batch);
      work_cv_.notify_all();  // the prefetch window moved
    }
  }
  const auto k = static_cast<std::int64_t>(picked.size());
  if (k == 0 || (k < batch && opt_.drop_last)) {
    stats_.finished = true;
    active_ = false;
    return std::nullopt;
  }
  ++stats_.batches;
  stats_.samples += k;
  lk.unlock();

  Batch out;
  const auto& first = picked.front().first;
  const bool whole_chunk = picked.back().first == first && first->count == k && picked.front().second == 0;
  if (whole_chunk) {
    out.images = first->images;  // the common case: workers wrote the batch in place
  } else {
    out.images = torch::empty({k, 3, size_.height, size_.width}, torch::TensorOptions(torch::kFloat32).pinned_memory(pinned_));
    for (std::int64_t j = 0; j < k; ++j) {
      const auto& [chunk, row] = picked[static_cast<std::size_t>(j)];
      out.images[j].copy_(chunk->images[row]);
    }
  }
  out.labels = torch::empty({k}, torch::kInt64);
  out.indices = torch::empty({k}, torch::kInt64);
  auto* labels = out.labels.data_ptr<std::int64_t>();
  auto* indices = out.indices.data_ptr<std::int64_t>();
  for (std::int64_t j = 0; j < k; ++j) {
    const auto& [chunk, row] = picked[static_cast<std::size_t>(j)];
    indices[j] = chunk->index[static_cast<std::size_t>(row)];
    labels[j] = source_->label(indices[j]);
  }
  return out;
}

FTMETA_DECL LoaderStats Loader::stats() const {
  std::lock_guard lk(m_);
  return stats_;
}

FTMETA_DECL std::shared_ptr<Loader::Chunk> Loader::chunk_for(std::int64_t pos) {
  const auto b = opt_.batch_size;
  auto& slot = chunks_[pos / b];
  if (!slot) {
    auto c = std::make_shared<Chunk>();
    c->first = pos / b * b;
    c->count = std::min(b, n_ - c->first);
    c->images = batch_tensor(c->count);
    c->index.assign(perm_.begin() + c->first, perm_.begin() + c->first + c->count);
    c->state.assign(static_cast<std::size_t>(c->count), pending);
    c->why.assign(static_cast<std::size_t>(c->count), {});
    slot = std::move(c);
  }
  return slot;
}

FTMETA_DECL torch::Tensor Loader::batch_tensor(std::int64_t count) {
  for (auto it = spare_.begin(); it != spare_.end(); ++it) {
    // held by spare_ alone: no Tensor and no view of its storage is left anywhere else
    if (it->size(0) == count && it->use_count() == 1 && it->storage().use_count() == 1) {
      torch::Tensor t = std::move(*it);
      spare_.erase(it);
      return t;
    }
  }
  return torch::empty({count, 3, size_.height, size_.width}, torch::TensorOptions(torch::kFloat32).pinned_memory(pinned_));
}

FTMETA_DECL void Loader::process(Chunk& chunk, std::int64_t row, std::int64_t idx, std::uint64_t key, std::int64_t epoch) {
  State state = good;
  std::string why;
  if (region_transform_) {
    process_region(state, why, row, chunk, idx, key, epoch);
  } else try {
    cv::Mat img = source_->decode_for(idx, why, opt_.decode);
    if (img.empty()) {
      state = bad;
      if (why.empty()) why = "cannot be decoded";
    } else if (img.depth() != CV_8U || (img.channels() != 1 && img.channels() != 3 && img.channels() != 4)) {
      state = failed;
      why = "the source gave an image that is not 8-bit gray, BGR or BGRA";
    } else {
      try {
        Rng rng = Rng::for_sample(opt_.seed, static_cast<std::uint64_t>(epoch), key);
        transform_(img, rng, chunk.images[row]);
      } catch (const std::exception& e) {
        state = failed;
        why = e.what();
      }
    }
  } catch (const std::exception& e) {
    state = bad;
    why = e.what();
  } catch (...) {
    state = failed;
    why = "unknown exception";
  }
  chunk.why[static_cast<std::size_t>(row)] = std::move(why);
  {
    std::lock_guard lk(m_);
    chunk.state[static_cast<std::size_t>(row)] = state;
  }
  done_cv_.notify_all();
}

FTMETA_DECL void Loader::process_region(State& state, std::string& why, std::int64_t row, Chunk& chunk, std::int64_t idx, std::uint64_t key,
                                          std::int64_t epoch) {
  bool decoded = false;
  try {
    Rng rng = Rng::for_sample(opt_.seed, static_cast<std::uint64_t>(epoch), key);
    region_transform_(
        [&](const RegionPlanFn& plan) {
          RegionImage got = source_->decode_region(idx, why, opt_.decode, plan);
          if (got.image.empty()) throw BadSample{};
          decoded = true;
          if (got.image.depth() != CV_8U || (got.image.channels() != 1 && got.image.channels() != 3 && got.image.channels() != 4))
            throw DataError("the source gave an image that is not 8-bit gray, BGR or BGRA");
          return got;
        },
        rng, chunk.images[row]);
  } catch (const BadSample&) {
    state = bad;
    if (why.empty()) why = "cannot be decoded";
  } catch (const std::exception& e) {
    state = decoded ? failed : bad;
    why = e.what();
  } catch (...) {
    state = failed;
    why = "unknown exception";
  }
}

FTMETA_DECL void Loader::work() {
  std::unique_lock lk(m_);
  for (;;) {
    work_cv_.wait(lk, [&] { return stop_ || (active_ && claim_ < n_ && claim_ < window_end()); });
    if (stop_) return;
    const auto pos = claim_++;
    auto chunk = chunk_for(pos);
    const auto idx = perm_[static_cast<std::size_t>(pos)];
    const auto key = keys_[static_cast<std::size_t>(pos)];
    const auto epoch = epoch_;
    lk.unlock();
    process(*chunk, pos - chunk->first, idx, key, epoch);
    chunk.reset();
    lk.lock();
  }
}

FTMETA_DECL void Loader::end_epoch_locked() {
  active_ = false;
  claim_ = n_;
  chunks_.clear();
}

}  // namespace ftmeta::data

// Tests of the samplers (sampler.hpp) and the loader's sampler hook: class-balanced weighted
// sampling, distributed shards (equal length, disjoint with drop_last, reshuffled per epoch),
// thread-count independence with a sampler, and resident memory flat over many epochs.
#include <ftmeta/data/loader.hpp>
#include <ftmeta/data/sampler.hpp>
#include <ftmeta/data/sources.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <unistd.h>
#include <vector>

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_data_sampler {

using namespace ftmeta::data;
using Catch::Matchers::Contains;

namespace {

// n gray 4x4 images whose pixels are their index; labels given.
std::shared_ptr<const SampleSource> gray_source(const std::vector<std::int64_t>& labels) {
  IdxImages imgs;
  imgs.count = static_cast<std::int64_t>(labels.size());
  imgs.rows = imgs.cols = 4;
  imgs.pixels.resize(static_cast<std::size_t>(imgs.count * 16));
  for (std::int64_t i = 0; i < imgs.count; ++i)
    std::fill_n(imgs.pixels.begin() + i * 16, 16, static_cast<std::uint8_t>(i % 251));
  return std::make_shared<InMemorySource>(std::move(imgs), labels);
}

// Writes the pixel value and one random number per sample.
void tiny(const cv::Mat& img, ftmeta::Rng& rng, torch::Tensor out) {
  out.fill_(static_cast<float>(img.at<std::uint8_t>(0, 0)));
  out[1].fill_(static_cast<float>(rng.uniform()));
}

std::vector<std::int64_t> visit(Loader& loader, std::int64_t epoch, std::vector<float>* draws = nullptr) {
  std::vector<std::int64_t> out;
  for (Batch& b : loader.epoch(epoch))
    for (std::int64_t j = 0; j < b.indices.size(0); ++j) {
      out.push_back(b.indices[j].item<std::int64_t>());
      if (draws) draws->push_back(b.images[j][1][0][0].item<float>());
    }
  return out;
}

std::int64_t resident_kib() {
  std::ifstream in("/proc/self/statm");
  std::int64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

}  // namespace

TEST_CASE("data: class-balanced weights make rare classes as frequent as common ones", "[data][sampler]") {
  std::vector<std::int64_t> labels(1000, 0);
  std::fill(labels.begin() + 900, labels.begin() + 980, 1);  // 900 / 80 / 20
  std::fill(labels.begin() + 980, labels.end(), 2);
  const auto w = class_balanced_weights(labels);
  CHECK(w[0] == Approx(1.0 / 900));
  CHECK(w[999] == Approx(1.0 / 20));
  const WeightedSampler sampler(w, 30000);
  const auto draws = sampler(1000, 11, 0);
  REQUIRE(draws.size() == 30000);
  std::map<std::int64_t, double> freq;
  for (auto i : draws) {
    REQUIRE(i >= 0);
    REQUIRE(i < 1000);
    freq[labels[static_cast<std::size_t>(i)]] += 1.0 / 30000;
  }
  for (int c = 0; c < 3; ++c) CHECK(freq[c] == Approx(1.0 / 3).margin(0.02));  // 6 sigma is 0.016
  CHECK(sampler(1000, 11, 0) == draws);  // a function of (seed, epoch)
  CHECK(sampler(1000, 11, 1) != draws);
  CHECK(sampler(1000, 12, 0) != draws);
  // zero weights are never drawn
  const WeightedSampler some({0.0, 1.0, 0.0, 2.0, 0.0});
  for (int e = 0; e < 50; ++e)
    for (auto i : some(5, 1, static_cast<std::uint64_t>(e))) CHECK((i == 1 || i == 3));
  CHECK_THROWS_WITH(WeightedSampler({0.0, 0.0}), Contains("sum to zero"));
  CHECK_THROWS_WITH(WeightedSampler({1.0, -1.0}), Contains("weight 1"));
  CHECK_THROWS_WITH(sampler(999, 0, 0), Contains("1000 weights") && Contains("999 samples"));
}

TEST_CASE("data: distributed shards are of equal length, cover the epoch and reshuffle", "[data][sampler]") {
  for (bool drop : {false, true}) {
    INFO("drop_last " << drop);
    for (std::uint64_t epoch : {0u, 1u}) {
      std::vector<std::int64_t> all;
      std::vector<std::vector<std::int64_t>> shards;
      for (int r = 0; r < 3; ++r) {
        shards.push_back(DistributedSampler{.rank = r, .world_size = 3, .drop_last = drop}(10, 5, epoch));
        all.insert(all.end(), shards.back().begin(), shards.back().end());
      }
      for (const auto& s : shards) CHECK(s.size() == (drop ? 3u : 4u));
      const std::set<std::int64_t> distinct(all.begin(), all.end());
      if (drop) {
        CHECK(distinct.size() == 9);  // disjoint
      } else {
        CHECK(distinct.size() == 10);  // everything, two samples padded onto a second rank
      }
    }
    const DistributedSampler r0{.rank = 0, .world_size = 3, .drop_last = drop};
    CHECK(r0(10, 5, 0) != r0(10, 5, 1));  // reshuffled per epoch
    CHECK(r0(10, 5, 0) == r0(10, 5, 0));
  }
  // over a weighted base: each rank gets its share of the same weighted draw
  const DistributedSampler w0{.rank = 0, .world_size = 2, .base = WeightedSampler({1, 1, 1, 1, 1, 1}, 8)};
  const DistributedSampler w1{.rank = 1, .world_size = 2, .base = w0.base};
  const auto base = WeightedSampler({1, 1, 1, 1, 1, 1}, 8)(6, 2, 3);
  const auto a = w0(6, 2, 3), b = w1(6, 2, 3);
  REQUIRE(a.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(a[i] == base[2 * i]);
    CHECK(b[i] == base[2 * i + 1]);
  }
  CHECK_THROWS_WITH((DistributedSampler{.rank = 2, .world_size = 2}(10, 0, 0)), Contains("rank 2"));
}

TEST_CASE("data: the loader visits its sampler's order, the same for any thread count", "[data][sampler][loader]") {
  std::vector<std::int64_t> labels(40);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = i < 34 ? 0 : 1;
  const auto source = gray_source(labels);
  const WeightedSampler weighted(class_balanced_weights(labels), 48);
  std::vector<std::int64_t> first;
  std::vector<float> first_draws;
  for (int workers : {0, 1, 2}) {
    INFO(workers << " workers");
    Loader loader(source, tiny, {4, 4}, {.batch_size = 5, .seed = 9, .num_workers = workers, .sampler = weighted});
    CHECK(loader.batches_per_epoch() == 10);
    std::vector<float> draws;
    const auto order = visit(loader, 2, &draws);
    CHECK(order == weighted(40, 9, 2));
    if (workers == 0) {
      first = order;
      first_draws = draws;
    } else {
      CHECK(order == first);
      CHECK(draws == first_draws);
    }
  }
  // a sample drawn twice in an epoch gets two different random streams
  std::map<std::int64_t, std::set<float>> per_sample;
  std::map<std::int64_t, int> visits;
  for (std::size_t j = 0; j < first.size(); ++j) {
    per_sample[first[j]].insert(first_draws[j]);
    ++visits[first[j]];
  }
  bool repeated = false;
  for (const auto& [i, k] : visits)
    if (k > 1) {
      repeated = true;
      CHECK(per_sample[i].size() == static_cast<std::size_t>(k));
    }
  CHECK(repeated);  // 48 draws, 6 rare samples: repeats are certain

  // distributed: two loaders (two ranks) see disjoint halves of the same epoch order
  Loader r0(source, tiny, {4, 4}, {.batch_size = 4, .seed = 1, .num_workers = 1,
                                  .sampler = DistributedSampler{.rank = 0, .world_size = 2, .drop_last = true}});
  Loader r1(source, tiny, {4, 4}, {.batch_size = 4, .seed = 1, .num_workers = 1,
                                  .sampler = DistributedSampler{.rank = 1, .world_size = 2, .drop_last = true}});
  const auto a = visit(r0, 4), b = visit(r1, 4);
  CHECK(a.size() == 20);
  CHECK(b.size() == 20);
  std::set<std::int64_t> both(a.begin(), a.end());
  both.insert(b.begin(), b.end());
  CHECK(both.size() == 40);
  CHECK(visit(r0, 5) != a);

  Loader bad(source, tiny, {4, 4}, {.batch_size = 4, .num_workers = 0,
                                   .sampler = [](std::int64_t n, std::uint64_t, std::uint64_t) {
                                     return std::vector<std::int64_t>{0, n};
                                   }});
  CHECK_THROWS_WITH(bad.start_epoch(0), Contains("index 40") && Contains("40 samples"));
}

TEST_CASE("data: resident memory stays flat over many epochs", "[data][loader][memory]") {
  std::vector<std::int64_t> labels(96);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int64_t>(i % 4);
  // encoded PNGs, so that every epoch decodes (the allocation-heavy path), with bad files mixed in
  std::vector<std::vector<std::uint8_t>> encoded;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    cv::Mat m(24 + static_cast<int>(i % 9), 32, CV_8UC3, cv::Scalar(static_cast<double>(i), 7, 9));
    std::vector<std::uint8_t> buf;
    cv::imencode(".png", m, buf);
    if (i % 17 == 0) buf.assign({'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm', 'a', 'g', 'e'});  // undecodable
    encoded.push_back(std::move(buf));
  }
  auto source = std::make_shared<EncodedSource>(std::move(encoded), labels);
  Loader loader(source, tiny, {32, 32}, {.batch_size = 8, .drop_last = true, .seed = 2, .num_workers = 2, .prefetch = 3});
  auto run = [&](std::int64_t from, std::int64_t to) {
    for (std::int64_t e = from; e < to; ++e)
      for (Batch& b : loader.epoch(e)) CHECK(b.images.size(0) == 8);
  };
  run(0, 30);  // warm up: allocator arenas, thread caches
  const auto before = resident_kib();
  run(30, 330);  // 300 epochs, 27,000 samples
  const auto after = resident_kib();
  INFO("resident " << before << " KiB after 30 epochs, " << after << " KiB after 330");
  // One epoch allocates ~12 batches of 8x3x32x32 floats (~100 KiB each): a leak of one batch per
  // epoch would add ~30 MB over 300 epochs. The bound allows for allocator noise only.
  CHECK(after - before < 4 * 1024);
  CHECK(loader.stats().skipped == 6);
}

}  // namespace unit_data_sampler

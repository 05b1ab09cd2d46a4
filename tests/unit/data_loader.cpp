// Tests of ftmeta/data/loader.hpp and sources.hpp: identical batches for 0, 1 and 2 worker threads,
// per-sample randomness, drop_last, bad files skipped and counted or failing fast, clean shutdown.
#include <ftmeta/data/loader.hpp>
#include <ftmeta/data/sources.hpp>

#include <ftmeta/data/detail/files.hpp>

#include <catch2/catch.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_data_loader {

namespace fs = std::filesystem;
using namespace ftmeta::data;
using Catch::Matchers::Contains;

namespace {

using ftmeta::test::TempDir;

// A stand-in for a transforms pipeline: resize, a random flip and a random brightness shift.
struct TinyPipeline {
  static constexpr int out_height = 8;
  static constexpr int out_width = 6;
  void operator()(const cv::Mat& img, ftmeta::Rng& rng, torch::Tensor out) const {
    cv::Mat small;
    cv::resize(img, small, cv::Size(out_width, out_height), 0, 0, cv::INTER_AREA);
    if (small.channels() == 1) cv::cvtColor(small, small, cv::COLOR_GRAY2BGR);
    if (rng.bernoulli(0.5)) cv::flip(small, small, 1);
    const float shift = static_cast<float>(rng.uniform(0.0, 0.5));
    auto a = out.accessor<float, 3>();
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < out_height; ++y)
        for (int x = 0; x < out_width; ++x) a[c][y][x] = small.at<cv::Vec3b>(y, x)[c] / 255.0f + shift;
  }
};

// n small PNG files of varying sizes; every third one gray. Labels are i % 3.
std::vector<Sample> make_files(const fs::path& dir, int n) {
  std::vector<Sample> out;
  cv::RNG rng(1234);
  for (int i = 0; i < n; ++i) {
    cv::Mat img(10 + i % 7, 12 + i % 5, i % 3 == 2 ? CV_8UC1 : CV_8UC3);
    rng.fill(img, cv::RNG::UNIFORM, 0, 256);
    const auto p = dir / ("img_" + std::to_string(i) + ".png");
    REQUIRE(cv::imwrite(p.string(), img));
    out.push_back({p, i % 3});
  }
  return out;
}

std::vector<Batch> run_epoch(Loader& loader, std::int64_t epoch) {
  std::vector<Batch> out;
  for (Batch& b : loader.epoch(epoch)) out.push_back(b);
  return out;
}

void check_same(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("batch " << i);
    CHECK(torch::equal(a[i].indices, b[i].indices));
    CHECK(torch::equal(a[i].labels, b[i].labels));
    CHECK(torch::equal(a[i].images, b[i].images));
  }
}

std::shared_ptr<const SampleSource> files_source(const std::vector<Sample>& s) {
  return std::make_shared<const FileSource>(s);
}

}  // namespace

TEST_CASE("data: loader batches are identical for 0, 1 and 2 worker threads", "[data][loader]") {
  TempDir tmp;
  const auto samples = make_files(tmp.path, 23);
  const auto source = files_source(samples);
  std::vector<std::vector<Batch>> runs[2];
  for (int workers : {0, 1, 2})
    for (int prefetch : {0, 3}) {
      Loader loader(source, TinyPipeline{}, output_size_v<TinyPipeline>,
                    {.batch_size = 5, .seed = 99, .num_workers = workers, .prefetch = prefetch});
      for (int e = 0; e < 2; ++e) runs[e].push_back(run_epoch(loader, e));
      const auto stats = loader.stats();
      CHECK(stats.epoch == 1);
      CHECK(stats.finished);
      CHECK(stats.batches == 5);
      CHECK(stats.samples == 23);
      CHECK(stats.skipped == 0);
    }
  for (int e = 0; e < 2; ++e)
    for (std::size_t r = 1; r < runs[e].size(); ++r) {
      INFO("epoch " << e << ", run " << r);
      check_same(runs[e][0], runs[e][r]);
    }

  // Shapes, a permutation per epoch, a new order each epoch.
  for (int e = 0; e < 2; ++e) {
    const auto& batches = runs[e][0];
    REQUIRE(batches.size() == 5);
    CHECK(batches[0].images.sizes() == torch::IntArrayRef{5, 3, 8, 6});
    CHECK(batches[0].images.dtype() == torch::kFloat32);
    CHECK(batches[0].labels.dtype() == torch::kInt64);
    CHECK(batches[4].images.size(0) == 3);
    std::vector<std::int64_t> order;
    for (const auto& b : batches)
      for (std::int64_t j = 0; j < b.indices.size(0); ++j) {
        order.push_back(b.indices[j].item<std::int64_t>());
        CHECK(b.labels[j].item<std::int64_t>() == samples[static_cast<std::size_t>(order.back())].label);
      }
    CHECK(order == epoch_permutation(23, 99, static_cast<std::uint64_t>(e)));
  }
  CHECK_FALSE(torch::equal(runs[0][0][0].indices, runs[1][0][0].indices));
}

TEST_CASE("data: each sample is transformed with Rng::for_sample(seed, epoch, index)", "[data][loader]") {
  TempDir tmp;
  const auto samples = make_files(tmp.path, 9);
  const auto source = files_source(samples);
  Loader loader(source, TinyPipeline{}, {8, 6}, {.batch_size = 4, .seed = 5, .num_workers = 2});
  const auto batches = run_epoch(loader, 3);
  for (const auto& b : batches)
    for (std::int64_t j = 0; j < b.indices.size(0); ++j) {
      const auto i = b.indices[j].item<std::int64_t>();
      std::string why;
      const cv::Mat img = source->decode(i, why);
      auto expected = torch::empty({3, 8, 6});
      auto rng = ftmeta::Rng::for_sample(5, 3, static_cast<std::uint64_t>(i));
      TinyPipeline{}(img, rng, expected);
      CHECK(torch::equal(b.images[j], expected));
    }
}

TEST_CASE("data: a batch tensor is written again only after the caller has let go of it", "[data][loader]") {
  TempDir tmp;
  const auto source = files_source(make_files(tmp.path, 12));
  for (int workers : {0, 2}) {
    INFO(workers << " worker threads");
    Loader loader(source, TinyPipeline{}, {8, 6}, {.batch_size = 4, .seed = 3, .num_workers = workers});
    // One image of the first batch held as a view (not the batch's own Tensor), and a copy of it.
    torch::Tensor held, copy;
    using Weak = c10::weak_intrusive_ptr<c10::TensorImpl, c10::UndefinedTensorImpl>;
    std::vector<Weak> earlier;  // every batch's tensor, without keeping it alive
    int batches = 0, again = 0;
    for (int epoch = 0; epoch < 4; ++epoch)
      for (Batch& b : loader.epoch(epoch)) {
        ++batches;
        if (!held.defined()) held = b.images[1], copy = held.clone();
        else CHECK(b.images.data_ptr() != held.data_ptr<float>() - held.numel());
        // the same tensor object as an earlier batch: only the loader can have kept it alive
        for (const Weak& w : earlier) again += w.lock().get() == b.images.unsafeGetTensorImpl();
        earlier.emplace_back(b.images.getIntrusivePtr());
      }
    CHECK(batches == 12);
    CHECK(torch::equal(held, copy));  // its storage was never written again
    CHECK(again > 0);                 // the batches dropped as the loop moved on were written again
  }
}

TEST_CASE("data: loader drop_last and shuffle off", "[data][loader]") {
  TempDir tmp;
  const auto source = files_source(make_files(tmp.path, 10));
  Loader keep(source, TinyPipeline{}, {8, 6}, {.batch_size = 4, .shuffle = false, .num_workers = 1});
  Loader drop(source, TinyPipeline{}, {8, 6}, {.batch_size = 4, .shuffle = false, .drop_last = true, .num_workers = 2});
  const auto a = run_epoch(keep, 0), b = run_epoch(drop, 0);
  CHECK(keep.batches_per_epoch() == 3);
  CHECK(drop.batches_per_epoch() == 2);
  REQUIRE(a.size() == 3);
  REQUIRE(b.size() == 2);
  CHECK(a[2].indices.size(0) == 2);
  CHECK(torch::equal(a[0].indices, torch::arange(0, 4, torch::kInt64)));
  CHECK(torch::equal(a[1].images, b[1].images));
  CHECK(drop.stats().samples == 8);

  // The typed entry point builds the same loader.
  auto typed = make_loader(source, TinyPipeline{}, output_size_v<TinyPipeline>,
                           {.batch_size = 4, .shuffle = false, .num_workers = 0});
  check_same(run_epoch(*typed, 0), a);
}

TEST_CASE("data: an unreadable file is skipped, counted and refilled from the next samples", "[data][loader]") {
  TempDir tmp;
  auto samples = make_files(tmp.path, 10);
  std::ofstream(samples[3].path, std::ios::binary | std::ios::trunc) << "this is not a PNG";
  samples.push_back({tmp.path / "missing.png", 0});  // index 10: no such file
  const auto source = files_source(samples);

  std::vector<std::vector<Batch>> runs;
  for (int workers : {0, 2}) {
    Loader loader(source, TinyPipeline{}, {8, 6}, {.batch_size = 4, .seed = 3, .num_workers = workers});
    runs.push_back(run_epoch(loader, 0));
    const auto stats = loader.stats();
    CHECK(stats.skipped == 2);
    CHECK(stats.samples == 9);
    REQUIRE(stats.skipped_files.size() == 2);
    CHECK_THAT(stats.skipped_files[0] + stats.skipped_files[1],
               Contains(samples[3].path.string()) && Contains("missing.png") && Contains("cannot open"));
  }
  check_same(runs[0], runs[1]);
  const auto& batches = runs[0];
  REQUIRE(batches.size() == 3);  // 4 + 4 + 1: full batches refilled
  CHECK(batches[0].indices.size(0) == 4);
  CHECK(batches[1].indices.size(0) == 4);
  CHECK(batches[2].indices.size(0) == 1);
  std::vector<std::int64_t> expected;
  for (auto i : epoch_permutation(11, 3, 0))
    if (i != 3 && i != 10) expected.push_back(i);
  std::vector<std::int64_t> got;
  for (const auto& b : batches)
    for (std::int64_t j = 0; j < b.indices.size(0); ++j) got.push_back(b.indices[j].item<std::int64_t>());
  CHECK(got == expected);  // the good samples, in epoch order
}

TEST_CASE("data: OnBadSample::fail names the file, and the loader can go on", "[data][loader]") {
  TempDir tmp;
  auto samples = make_files(tmp.path, 12);
  std::ofstream(samples[7].path, std::ios::binary | std::ios::trunc) << "garbage";
  const auto source = files_source(samples);
  for (int workers : {0, 2}) {
    INFO(workers << " workers");
    Loader loader(source, TinyPipeline{}, {8, 6},
                  {.batch_size = 3, .seed = 1, .num_workers = workers, .on_bad_sample = OnBadSample::fail});
    loader.start_epoch(0);
    bool threw = false;
    try {
      while (loader.next()) {
      }
    } catch (const ftmeta::FileError& e) {
      threw = true;
      CHECK_THAT(std::string(e.what()), Contains(samples[7].path.string()) && Contains("OnBadSample::skip"));
    }
    CHECK(threw);
    CHECK_FALSE(loader.next().has_value());  // the epoch ended
    CHECK_FALSE(loader.stats().finished);
    loader.start_epoch(1);  // a new epoch starts cleanly
    CHECK(loader.next().has_value());
  }
}

TEST_CASE("data: a transform that throws is reported with the sample", "[data][loader]") {
  TempDir tmp;
  const auto samples = make_files(tmp.path, 4);
  Loader loader(files_source(samples),
                [](const cv::Mat&, ftmeta::Rng&, torch::Tensor) { throw std::runtime_error("crop larger than image"); },
                {4, 4}, {.batch_size = 2, .num_workers = 1});
  loader.start_epoch(0);
  CHECK_THROWS_AS(loader.next(), ftmeta::DataError);
  loader.start_epoch(0);
  CHECK_THROWS_WITH(loader.next(), Contains("crop larger than image") && Contains("img_"));
  CHECK_THROWS_AS(Loader(nullptr, TinyPipeline{}, {8, 6}), ftmeta::UsageError);
  CHECK_THROWS_WITH(Loader(files_source(samples), TinyPipeline{}, {8, 6}, {.batch_size = 0}), Contains("batch_size"));
  Loader unstarted(files_source(samples), TinyPipeline{}, {8, 6});
  CHECK_THROWS_WITH(unstarted.next(), Contains("start_epoch"));
}

TEST_CASE("data: restarting or destroying a loader mid-epoch is clean", "[data][loader]") {
  TempDir tmp;
  const auto source = files_source(make_files(tmp.path, 40));
  const LoaderOptions opt{.batch_size = 4, .seed = 8, .num_workers = 2, .prefetch = 4};
  Loader fresh(source, TinyPipeline{}, {8, 6}, opt);
  const auto reference = run_epoch(fresh, 2);

  Loader loader(source, TinyPipeline{}, {8, 6}, opt);
  loader.start_epoch(2);
  REQUIRE(loader.next().has_value());
  REQUIRE(loader.next().has_value());
  check_same(run_epoch(loader, 2), reference);  // restarted from the beginning
  CHECK(loader.stats().batches == 10);

  std::atomic<int> calls{0};
  {
    Loader doomed(source,
                  [&](const cv::Mat& m, ftmeta::Rng& r, torch::Tensor out) {
                    ++calls;
                    TinyPipeline{}(m, r, out);
                  },
                  {8, 6}, opt);
    doomed.start_epoch(0);
    REQUIRE(doomed.next().has_value());
  }  // destroyed with workers busy: joins them
  const int after = calls.load();
  CHECK(after >= 4);
  CHECK(after <= 4 + (opt.prefetch + 1) * 4);  // the workers kept to the prefetch window
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(calls.load() == after);  // and nothing runs after the destructor
}

TEST_CASE("data: file sources decode to 8-bit BGR whatever the file holds", "[data][sources]") {
  TempDir tmp;
  cv::Mat bgr(4, 5, CV_8UC3, cv::Scalar(10, 20, 200));  // OpenCV order: blue 10, green 20, red 200
  cv::Mat gray(4, 5, CV_8UC1, cv::Scalar(77));
  cv::Mat bgra(4, 5, CV_8UC4, cv::Scalar(10, 20, 200, 0));
  cv::Mat deep(4, 5, CV_16UC3, cv::Scalar(10 * 256, 20 * 256, 200 * 256));
  std::vector<Sample> s;
  int i = 0;
  for (const cv::Mat* m : {&bgr, &gray, &bgra, &deep}) {
    const auto p = tmp.path / ("c" + std::to_string(i) + (i == 0 ? ".jpg" : ".png"));
    REQUIRE(cv::imwrite(p.string(), *m));
    s.push_back({p, i++});
  }
  const FileSource files(s);
  std::string why;
  for (std::int64_t k = 0; k < 4; ++k) {
    INFO(s[static_cast<std::size_t>(k)].path);
    const cv::Mat d = files.decode(k, why);
    REQUIRE(d.type() == CV_8UC3);
    CHECK(d.size() == cv::Size(5, 4));
    const auto px = d.at<cv::Vec3b>(1, 1);
    if (k == 1) {
      CHECK(px == cv::Vec3b(77, 77, 77));
    } else {
      CHECK(std::abs(px[0] - 10) <= 3);  // OpenCV's BGR order, as cv::imread gives
      CHECK(std::abs(px[1] - 20) <= 3);
      CHECK(std::abs(px[2] - 200) <= 3);
    }
  }

  std::vector<std::uint8_t> png;
  REQUIRE(cv::imencode(".png", bgr, png));
  const EncodedSource encoded({png, {1, 2, 3}}, {4, 5}, "blob");
  CHECK(encoded.label(1) == 5);
  CHECK(encoded.decode(0, why).at<cv::Vec3b>(0, 0) == cv::Vec3b(10, 20, 200));
  CHECK(encoded.decode(1, why).empty());
  CHECK(why == "not a decodable image");
  CHECK(encoded.describe(1) == "blob #1");
  CHECK_THROWS_AS(EncodedSource({png}, {1, 2}), ftmeta::DataError);
}

}  // namespace unit_data_loader

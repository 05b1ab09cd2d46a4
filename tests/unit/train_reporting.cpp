// Runtime tests of what a person sees: metrics against scikit-learn, TensorBoard event files read
// back by TensorBoard itself, PNG plots, and the progress bar.
#include <ftmeta/train/metrics.hpp>
#include <ftmeta/train/plots.hpp>
#include <ftmeta/train/progress.hpp>
#include <ftmeta/train/tensorboard.hpp>

#include <catch2/catch.hpp>
#include <support/npy.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_train_reporting {

namespace {
std::filesystem::path temp_dir(const std::string& name) {
  auto p = std::filesystem::temp_directory_path() / ("ftmeta_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}
}  // namespace

TEST_CASE("ConfusionMatrix gives scikit-learn's confusion matrix, precision, recall, F1 and top-k", "[train][metrics]") {
  const auto dir = ftmeta::test::refs_dir() / "metrics";
  auto labels = ftmeta::test::load_npy(dir / "labels.npy");
  auto scores = ftmeta::test::load_npy(dir / "scores.npy");
  const auto k = scores.size(1);
  ftmeta::train::ConfusionMatrix m(k);
  auto pred = scores.argmax(1);
  auto top5 = std::get<1>(scores.topk(5, 1));
  for (std::int64_t i = 0; i < labels.size(0); ++i) {
    const auto label = labels[i].item<std::int64_t>();
    m.add(label, pred[i].item<std::int64_t>(), top5[i].eq(label).any().item<bool>());
  }
  auto confusion = ftmeta::test::load_npy(dir / "confusion.npy");
  for (std::int64_t r = 0; r < k; ++r)
    for (std::int64_t c = 0; c < k; ++c) CHECK(m.at(r, c) == confusion[r][c].item<std::int64_t>());
  auto precision = ftmeta::test::load_npy(dir / "precision.npy"), recall = ftmeta::test::load_npy(dir / "recall.npy"),
       f1 = ftmeta::test::load_npy(dir / "f1.npy");
  for (std::int64_t c = 0; c < k; ++c) {
    CHECK(m.scores(c).precision == Approx(precision[c].item<double>()).margin(1e-12));
    CHECK(m.scores(c).recall == Approx(recall[c].item<double>()).margin(1e-12));
    CHECK(m.scores(c).f1 == Approx(f1[c].item<double>()).margin(1e-12));
  }
  CHECK(m.macro_f1() == Approx(ftmeta::test::load_npy(dir / "macro_f1.npy")[0].item<double>()).margin(1e-12));
  CHECK(m.accuracy() == Approx(ftmeta::test::load_npy(dir / "top1.npy")[0].item<double>()).margin(1e-12));
  CHECK(m.top5_accuracy() == Approx(ftmeta::test::load_npy(dir / "top5.npy")[0].item<double>()).margin(1e-12));

  ftmeta::train::ConfusionMatrix twice(k);
  twice.merge(m);
  twice.merge(m);
  CHECK(twice.total() == 2 * m.total());
  CHECK(twice.accuracy() == Approx(m.accuracy()));
  ftmeta::train::ConfusionMatrix rebuilt(k);  // as ranks rebuild it from summed counts
  rebuilt.add_counts(m.counts(), m.top5_hits());
  CHECK(rebuilt.counts() == m.counts());
  CHECK(rebuilt.top5_accuracy() == m.top5_accuracy());
  CHECK_THROWS_WITH(rebuilt.add_counts({1, 2}, 0), Catch::Contains("expected 49 counts"));
  CHECK_THROWS_WITH(m.add(k, 0, false), Catch::Contains("outside [0, 7)"));
}

TEST_CASE("TensorBoard event files are read back by TensorBoard's own reader", "[train][tensorboard]") {
  const auto dir = temp_dir("tb");
  {
    ftmeta::train::TensorBoardWriter tb(dir);
    for (int step = 1; step <= 3; ++step) {
      tb.scalar("train/loss", 1.0 / step, step);
      tb.scalar("val/accuracy", 0.5 + 0.1 * step, step);
    }
  }
  const auto listing = dir / "scalars.txt";
  const std::string cmd = std::string(FTMETA_PYTHON) + " " + FTMETA_SOURCE_DIR + "/tests/python/tools/read_tfevents.py " +
                          dir.string() + " > " + listing.string() + " 2>/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::ifstream in(listing);
  std::string tag;
  std::int64_t step = 0;
  double value = 0;
  std::map<std::string, std::map<std::int64_t, double>> read;
  while (in >> tag >> step >> value) read[tag][step] = value;
  REQUIRE(read.size() == 2);
  for (int s = 1; s <= 3; ++s) {
    CHECK(read["train/loss"][s] == Approx(1.0 / s).epsilon(1e-6));  // stored as float32
    CHECK(read["val/accuracy"][s] == Approx(0.5 + 0.1 * s).epsilon(1e-6));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("Plots are PNGs with the series drawn in their colours", "[train][plots]") {
  const auto dir = temp_dir("plots");
  ftmeta::train::Series rising{"val accuracy", {1, 2, 3, 4}, {0.5, 0.7, 0.8, 0.85}};
  ftmeta::train::Series falling{"train loss", {1, 2, 3, 4}, {1.2, 0.8, 0.6, 0.5}};
  ftmeta::train::plot_lines(dir / "curves.png", {rising, falling}, {"training", "epoch", "value"});
  cv::Mat img = cv::imread((dir / "curves.png").string());
  REQUIRE(!img.empty());
  CHECK(img.cols == 800);
  CHECK(img.rows == 500);
  auto count_colour = [&](const cv::Scalar& bgr) {
    cv::Mat mask;
    cv::inRange(img, bgr - cv::Scalar(8, 8, 8), bgr + cv::Scalar(8, 8, 8), mask);
    return cv::countNonZero(mask);
  };
  CHECK(count_colour(ftmeta::train::detail::palette(0)) > 300);  // a line across the chart, not a dot
  CHECK(count_colour(ftmeta::train::detail::palette(1)) > 300);
  CHECK(count_colour(ftmeta::train::detail::palette(2)) == 0);  // no third series

  ftmeta::train::plot_lines(dir / "lr.png", {{"lr", {1e-6, 1e-4, 1e-2, 1}, {2.3, 2.0, 1.1, 9.0}}}, {"lr finder", "lr", "loss", true});
  CHECK(!cv::imread((dir / "lr.png").string()).empty());

  ftmeta::train::ConfusionMatrix m(3);
  for (int i = 0; i < 20; ++i) m.add(i % 3, i % 3, true);
  m.add(0, 2, false);
  ftmeta::train::plot_confusion(dir / "confusion.png", m, {"cat", "dog", "bird"});
  cv::Mat cm = cv::imread((dir / "confusion.png").string());
  REQUIRE(!cm.empty());
  // The diagonal cells are dark (most of each row), an empty off-diagonal cell stays white.
  const int cell = 60, left = 150, top = 60;
  auto centre = [&](int r, int c) { return cm.at<cv::Vec3b>(top + r * cell + 8, left + c * cell + cell - 8); };
  CHECK(centre(1, 1)[2] < 120);
  CHECK(centre(1, 0) == cv::Vec3b(255, 255, 255));
  std::filesystem::remove_all(dir);
}

TEST_CASE("The progress bar redraws on a terminal and prints tenths otherwise", "[train][progress]") {
  std::ostringstream tty, plain;
  ftmeta::train::ProgressBar a(tty, "epoch 1", 20, true), b(plain, "epoch 1", 20, false);
  for (int i = 1; i <= 20; ++i) {
    a.update(i, 1.0 / i, i * 8);
    b.update(i, 1.0 / i, i * 8);
  }
  a.finish();
  const std::string drawn = tty.str(), printed = plain.str();
  CHECK(std::count(drawn.begin(), drawn.end(), '\r') == 20);
  CHECK(drawn.find("20/20") != std::string::npos);
  CHECK(std::count(printed.begin(), printed.end(), '\n') == 10);
  CHECK(printed.find('\r') == std::string::npos);
  CHECK(ftmeta::train::format_duration(3723) == "1:02:03");
  CHECK(ftmeta::train::format_duration(65) == "1:05");
}

}  // namespace unit_train_reporting

// Runtime tests of RunReport: the files a run leaves in its output folder.
#include <ftmeta/train/report.hpp>

#include <catch2/catch.hpp>
#include <support/npy.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_train_run_report {

namespace {
std::filesystem::path temp_dir(const std::string& name) {
  auto p = std::filesystem::temp_directory_path() / ("ftmeta_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}
std::vector<std::string> lines_of(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<std::string> v;
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}
}  // namespace

TEST_CASE("add_batch counts top-1 and top-5 from logits", "[train][report]") {
  ftmeta::train::ConfusionMatrix m(6);
  // Sample 0: label 2 scored highest; sample 1: label 0 scored lowest (outside the top 5 of 6).
  auto logits = torch::tensor({{0.1f, 0.2f, 0.9f, 0.0f, 0.3f, 0.4f}, {-5.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f}});
  ftmeta::train::add_batch(m, logits, torch::tensor({2, 0}));
  CHECK(m.at(2, 2) == 1);
  CHECK(m.at(0, 5) == 1);
  CHECK(m.accuracy() == 0.5);
  CHECK(m.top5_accuracy() == 0.5);
}

TEST_CASE("RunReport writes CSV, JSON lines, TensorBoard scalars, plots and the test report", "[train][report]") {
  const auto dir = temp_dir("report");
  {
    ftmeta::train::RunReport report(dir, {"cat", "dog"}, {"backbone", "head"});
    for (int e = 1; e <= 3; ++e) {
      ftmeta::train::EpochReport r;
      r.epoch = e;
      r.train_loss = 1.0 / e;
      r.train_accuracy = 0.5 + 0.1 * e;
      r.lrs = {1e-2 / e, 1e-3};
      r.val.loss = 0.9 / e;
      r.val.confusion.reset(2);
      for (int i = 0; i < 10; ++i) r.val.confusion.add(i % 2, i < 5 + e ? i % 2 : 1 - i % 2, true);
      report.epoch(r);
    }
    ftmeta::train::SplitReport test;
    test.confusion.reset(2);
    test.confusion.add(0, 0, true);
    test.confusion.add(1, 0, true);
    test.samples = 2;
    report.test(test);
  }
  const auto csv = lines_of(dir / "metrics.csv");
  REQUIRE(csv.size() == 4);
  CHECK(csv[0] == "epoch,train_loss,train_acc,val_loss,val_acc,val_top5,val_macro_f1,lr_backbone,lr_head,train_seconds,train_images_per_s,skipped");
  CHECK(csv[3].rfind("3,0.333333333,0.8,0.3,0.8,1,", 0) == 0);
  CHECK(lines_of(dir / "metrics.jsonl").size() == 3);
  for (auto png : {"loss.png", "accuracy.png", "lr.png", "confusion_val.png", "confusion_test.png"})
    CHECK(!cv::imread((dir / png).string()).empty());

  // Python's json module and TensorBoard's reader accept what was written.
  const std::string py = FTMETA_PYTHON;
  const auto check = dir / "check.txt";
  const std::string cmd = py + " -c \"import json,sys; rows=[json.loads(l) for l in open(sys.argv[1])]; t=json.load(open(sys.argv[2])); "
                               "print(rows[2]['val_acc'], rows[0]['lr']['backbone'], t['accuracy'], t['classes'][1]['recall'])\" " +
                          (dir / "metrics.jsonl").string() + " " + (dir / "test.json").string() + " > " + check.string();
  REQUIRE(std::system(cmd.c_str()) == 0);
  CHECK(lines_of(check).at(0) == "0.8 0.01 0.5 0");  // class 1 (dog): its only sample was called a cat
  const std::string tb = py + " " + FTMETA_SOURCE_DIR + "/tests/python/tools/read_tfevents.py " + (dir / "tensorboard").string() +
                         " > " + check.string() + " 2>/dev/null";
  REQUIRE(std::system(tb.c_str()) == 0);
  const auto scalars = lines_of(check);
  CHECK(std::count_if(scalars.begin(), scalars.end(), [](auto& l) { return l.rfind("val/accuracy\t", 0) == 0; }) == 3);
  CHECK(std::count_if(scalars.begin(), scalars.end(), [](auto& l) { return l.rfind("lr/head\t", 0) == 0; }) == 3);
  std::filesystem::remove_all(dir);
}

}  // namespace unit_train_run_report

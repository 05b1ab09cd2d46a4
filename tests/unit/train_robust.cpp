// Tests of the faults a run meets (docs/robustness.md): damaged checkpoints (checksum, truncation,
// the predecessor named), full disks (RLIMIT_FSIZE with SIGXFSZ ignored: checkpoints, metrics,
// TensorBoard events, plots, test.json and split manifests fail with one line and leave the
// previous files whole), and two runs on one output folder (RunLock).
#include <ftmeta/data/split.hpp>
#include <ftmeta/train/checkpoint.hpp>
#include <ftmeta/train/report.hpp>
#include <ftmeta/util/atomic_file.hpp>
#include <ftmeta/util/run_lock.hpp>

#include <ftmeta/data/detail/files.hpp>

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace unit_train_robust {

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("ftmeta_robust_" + std::to_string(::getpid()) + "_" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    ftmeta::data::detail::remove_tree(path, ec);
  }
};

std::string read_all(const fs::path& p) { return ftmeta::data::detail::read_text(p); }

void write_all(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary | std::ios::trunc) << s; }

// Files in `dir` whose name holds ".tmp": what a failed atomic write must not leave behind.
std::vector<std::string> leftovers(const fs::path& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp") != std::string::npos) out.push_back(e.path().string());
  return out;
}

// A file-size limit for this process (no root needed): writes past `bytes` fail with EFBIG, and
// SIGXFSZ, which would kill the process, is ignored. Restored on scope exit.
struct FileSizeLimit {
  rlimit old{};
  void (*old_handler)(int) = nullptr;
  explicit FileSizeLimit(rlim_t bytes) {
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit lim = old;
    lim.rlim_cur = bytes;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &lim) == 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);
  }
};

ftmeta::train::CheckpointInfo info_at(std::int64_t epoch) {
  ftmeta::train::CheckpointInfo info;
  info.class_names = {"cat", "dog"};
  info.model = "linear";
  info.epoch = epoch;
  return info;
}

}  // namespace

TEST_CASE("robust: checkpoints carry a checksum; a damaged one is refused naming it and its intact predecessor", "[robust][checkpoint]") {
  using namespace ftmeta::train;
  TempDir tmp;
  torch::manual_seed(0);
  torch::nn::Linear net(64, 2);
  torch::optim::SGD sgd(net->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  const auto last = tmp.path / "last.pt";
  save_checkpoint(last, *net, info_at(1), &sgd, /*keep_previous=*/true);
  CHECK_FALSE(fs::exists(tmp.path / "last.prev.pt"));  // nothing before the first
  save_checkpoint(last, *net, info_at(2), &sgd, true);
  REQUIRE(fs::exists(tmp.path / "last.prev.pt"));
  CHECK(read_checkpoint_info(tmp.path / "last.prev.pt").epoch == 1);
  CHECK(read_checkpoint_info(last).epoch == 2);
  const std::string good = read_all(last);
  CHECK(ftmeta::train::detail::check_checksum(good).empty());
  CHECK(good.substr(good.size() - 21, 13) == "ftmeta-crc32 ");
  CHECK(leftovers(tmp.path).empty());

  // One flipped byte in the middle (tensor data): refused, naming the file and the predecessor.
  std::string flipped = good;
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x20);
  write_all(last, flipped);
  CHECK_THROWS_WITH(read_checkpoint_info(last), Contains(last.string() + " is damaged (checksum mismatch") &&
                                                    Contains((tmp.path / "last.prev.pt").string() + " (epoch 1) is intact"));
  torch::nn::Linear other(64, 2);
  CHECK_THROWS_WITH(load_checkpoint(last, *other, "linear"), Contains("is damaged"));
  CHECK_THROWS_WITH(load_optimizer_state(last, sgd), Contains("is damaged"));

  // Cut short anywhere: refused too (a few cuts, from the header to the last byte).
  for (std::size_t keep : {std::size_t{0}, std::size_t{100}, good.size() / 3, good.size() - 30, good.size() - 1}) {
    INFO("kept " << keep << " of " << good.size() << " bytes");
    write_all(last, good.substr(0, keep));
    CHECK_THROWS_WITH(read_checkpoint_info(last), Contains(last.string() + " is damaged") && Contains("last.prev.pt (epoch 1) is intact"));
  }
  // The predecessor damaged as well: both named.
  write_all(tmp.path / "last.prev.pt", "garbage");
  CHECK_THROWS_WITH(read_checkpoint_info(last), Contains("is damaged") && Contains("last.prev.pt is damaged too"));
  // The intact file loads again; weights equal.
  write_all(last, good);
  load_checkpoint(last, *other, "linear");
  CHECK(torch::equal(other->weight, net->weight));
}

TEST_CASE("robust: a checkpoint without a checksum (ftmeta 0.1) still loads", "[robust][checkpoint]") {
  using namespace ftmeta::train;
  TempDir tmp;
  torch::nn::Linear net(4, 2);
  save_checkpoint(tmp.path / "a.pt", *net, info_at(3));
  std::string bytes = read_all(tmp.path / "a.pt");
  // strip the comment, as 0.1 wrote them
  bytes.resize(bytes.size() - ftmeta::train::detail::checksum_comment_size);
  bytes[bytes.size() - 2] = 0;
  write_all(tmp.path / "a.pt", bytes);
  CHECK(ftmeta::train::detail::check_checksum(bytes) == "unchecked");
  CHECK(read_checkpoint_info(tmp.path / "a.pt").epoch == 3);
}

TEST_CASE("robust: full disk: a checkpoint write fails with one line and leaves the old file whole", "[robust][fulldisk]") {
  using namespace ftmeta::train;
  TempDir tmp;
  torch::nn::Linear net(256, 8);  // about 8 kB of weights
  const auto last = tmp.path / "last.pt";
  save_checkpoint(last, *net, info_at(1), nullptr, true);
  const std::string before = read_all(last);
  {
    FileSizeLimit limit(2000);
    try {
      save_checkpoint(last, *net, info_at(2), nullptr, true);
      FAIL("the write past the limit did not fail");
    } catch (const ftmeta::FileError& e) {
      const std::string what = e.what();
      CHECK(what.find('\n') == std::string::npos);
      CHECK_THAT(what, Contains("cannot write checkpoint " + last.string()) && Contains("File too large"));
    }
  }
  CHECK(read_all(last) == before);
  CHECK(read_checkpoint_info(last).epoch == 1);
  CHECK_FALSE(fs::exists(tmp.path / "last.prev.pt"));  // the predecessor moves only when a new file lands
  CHECK(leftovers(tmp.path).empty());
}

TEST_CASE("robust: full disk: metrics lines, TensorBoard events, plots and test.json fail cleanly", "[robust][fulldisk]") {
  using namespace ftmeta::train;
  TempDir tmp;
  RunReport report(tmp.path, {"cat", "dog"}, {"backbone", "head"});
  EpochReport r;
  r.epoch = 1;
  r.train_loss = 0.5;
  r.val.confusion.reset(2);
  r.val.confusion.add(0, 0, true);
  r.val.confusion.add(1, 0, true);
  r.lrs = {0.01, 0.001};
  report.epoch(r);
  std::map<std::string, std::string> before;
  for (auto& e : fs::recursive_directory_iterator(tmp.path))
    if (e.is_regular_file()) before[e.path().string()] = read_all(e.path());
  REQUIRE(before.count((tmp.path / "metrics.csv").string()));
  REQUIRE(before.count((tmp.path / "loss.png").string()));
  r.epoch = 2;
  {
    // Every file is at most a few kB: a limit of 100 bytes fails every write that grows a file
    // past it; the append paths cut back, the replaced files stay as they were.
    FileSizeLimit limit(100);
    CHECK_THROWS_WITH(report.epoch(r), Contains("cannot write") && Contains("File too large"));
    CHECK_THROWS_WITH(plot_confusion(tmp.path / "confusion_val.png", r.val.confusion, {"cat", "dog"}, "again"),
                      Contains("confusion_val.png: File too large"));
    CHECK_THROWS_WITH(report.test(r.val), Contains("File too large"));
  }
  for (auto& [path, text] : before) {
    INFO(path);
    CHECK(read_all(path) == text);
  }
  CHECK_FALSE(fs::exists(tmp.path / "test.json"));
  CHECK(leftovers(tmp.path).empty());
  // Under the limit again, the run goes on: epoch 2 is one whole line more.
  report.epoch(r);
  CHECK(read_all(tmp.path / "metrics.csv").size() > before[(tmp.path / "metrics.csv").string()].size());
}

TEST_CASE("robust: full disk: an appended record is whole or absent", "[robust][fulldisk]") {
  TempDir tmp;
  const auto p = tmp.path / "events";
  ftmeta::util::AppendFile f(p);
  f.append(std::string(60, 'a'));
  {
    FileSizeLimit limit(100);
    CHECK_THROWS_WITH(f.append(std::string(80, 'b')), Contains(p.string() + ": File too large"));
  }
  CHECK(read_all(p) == std::string(60, 'a'));  // not 100 bytes with 40 of a half record
  f.append("c");
  CHECK(read_all(p) == std::string(60, 'a') + "c");
  // TensorBoard's writer uses it: a failed event leaves the file a sequence of whole records
  ftmeta::train::TensorBoardWriter tb(tmp.path / "tb");
  tb.scalar("x", 1.0, 1);
  const auto events = read_all(tb.path());
  {
    FileSizeLimit limit(events.size() + 10);
    CHECK_THROWS_WITH(tb.scalar("a/long/tag/name", 2.0, 2), Contains("TensorBoardWriter: cannot write") && Contains("File too large"));
  }
  CHECK(read_all(tb.path()) == events);
}

TEST_CASE("robust: full disk: a split manifest is replaced whole or not at all", "[robust][fulldisk]") {
  TempDir tmp;
  std::vector<ftmeta::data::Sample> samples;
  for (int i = 0; i < 40; ++i) samples.push_back({tmp.path / ("img_" + std::to_string(i) + ".png"), i % 2});
  ftmeta::data::SplitIndices parts;
  for (std::int64_t i = 0; i < 40; ++i) (i < 30 ? parts.train : parts.test).push_back(i);
  const auto file = tmp.path / "split.tsv";
  const ftmeta::data::ClassMap classes({"a", "b"});
  const ftmeta::data::ManifestMeta meta{classes, classes.hash(), 0, {0.75, 0.0, 0.25}};
  ftmeta::data::write_split_manifest(file, tmp.path, meta, samples, parts);
  const auto before = read_all(file);
  for (int i = 0; i < 40; ++i) samples[static_cast<std::size_t>(i)].path = tmp.path / ("renamed_" + std::to_string(i) + ".png");
  {
    FileSizeLimit limit(before.size() / 2);
    CHECK_THROWS_WITH(ftmeta::data::write_split_manifest(file, tmp.path, meta, samples, parts), Contains("split.tsv: File too large"));
  }
  CHECK(read_all(file) == before);
  CHECK(leftovers(tmp.path).empty());
}

TEST_CASE("robust: one run per output folder: a live owner is named, a dead one's lock taken over", "[robust][lock]") {
  TempDir tmp;
  int ready[2], go[2];
  REQUIRE(::pipe(ready) == 0);
  REQUIRE(::pipe(go) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // the first run: takes the lock, says so, waits to be killed
    try {
      ftmeta::util::RunLock lock(tmp.path);
      char c = 'y';
      if (::write(ready[1], &c, 1) != 1) ::_exit(3);
      if (::read(go[0], &c, 1) < 0) ::_exit(4);
    } catch (...) {
      ::_exit(2);
    }
    ::_exit(0);
  }
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  // The second run on the same folder is refused, naming the first's PID.
  CHECK_THROWS_WITH(ftmeta::util::RunLock(tmp.path), Contains("in use by another run (PID " + std::to_string(child) + ",") &&
                                                         Contains((tmp.path / "ftmeta.lock").string()));
  // The first run is killed (no clean-up): its lock is stale, taken over, and its PID reported.
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  {
    ftmeta::util::RunLock lock(tmp.path);
    REQUIRE(lock.stale_pid());
    CHECK(*lock.stale_pid() == child);
    CHECK(read_all(tmp.path / "ftmeta.lock") == std::to_string(::getpid()) + "\n");
  }
  // Released at the end of its scope: the next run finds the folder free.
  ftmeta::util::RunLock again(tmp.path);
  CHECK_FALSE(again.stale_pid());
  for (int fd : {ready[0], ready[1], go[0], go[1]}) ::close(fd);
}

}  // namespace unit_train_robust

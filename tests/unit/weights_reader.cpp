// Tests of load_state_dict_file: both torch.save formats against Python's values, and hostile files.
#include <ftmeta/nn/weights.hpp>

#include "support/npy.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_weights_reader {

// More trials under a sanitizer build: -DFTMETA_WEIGHTS_FUZZ_TRIALS=5000.
#ifndef FTMETA_WEIGHTS_FUZZ_TRIALS
#define FTMETA_WEIGHTS_FUZZ_TRIALS 300
#endif

namespace fs = std::filesystem;
using ftmeta::nn::load_state_dict_file;
using ftmeta::nn::StateDict;

namespace {

fs::path refs() { return ftmeta::test::refs_dir() / "weights"; }

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

fs::path scratch(const std::string& name, const std::string& bytes) {
  const auto dir = fs::temp_directory_path() / "ftmeta_weights_tests";
  fs::create_directories(dir);
  const auto path = dir / name;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

// The message of the WeightsError that loading `file` throws ("" if it loads).
std::string load_error(const fs::path& file) {
  try {
    load_state_dict_file(file);
  } catch (const ftmeta::WeightsError& e) {
    return e.what();
  }
  return "";
}

std::string python_dtype(torch::Dtype d) {
  static const std::pair<torch::Dtype, const char*> names[] = {
      {torch::kFloat32, "torch.float32"}, {torch::kFloat64, "torch.float64"}, {torch::kFloat16, "torch.float16"},
      {torch::kBFloat16, "torch.bfloat16"}, {torch::kInt64, "torch.int64"}, {torch::kInt32, "torch.int32"},
      {torch::kInt16, "torch.int16"}, {torch::kInt8, "torch.int8"}, {torch::kUInt8, "torch.uint8"},
      {torch::kBool, "torch.bool"}};
  for (const auto& [dtype, name] : names)
    if (dtype == d) return name;
  return "?";
}

struct Expected {
  std::string key, dtype;
  std::vector<std::int64_t> shape;
};

std::vector<Expected> expected_keys() {
  std::ifstream in(refs() / "keys.txt");
  REQUIRE(in);
  std::vector<Expected> out;
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    Expected e;
    std::string shape;
    words >> e.key >> e.dtype >> shape;
    std::istringstream dims(shape);
    for (std::string d; std::getline(dims, d, ',');) e.shape.push_back(std::stoll(d));
    out.push_back(e);
  }
  return out;
}

void check_small(const StateDict& sd) {
  const auto expected = expected_keys();
  REQUIRE(sd.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("key " << expected[i].key);
    CHECK(sd[i].first == expected[i].key);
    CHECK(python_dtype(sd[i].second.scalar_type()) == expected[i].dtype);
    CHECK(sd[i].second.sizes().vec() == expected[i].shape);
    const auto want = ftmeta::test::load_npy(refs() / ("value_" + std::to_string(i) + ".npy"));
    CHECK(torch::equal(sd[i].second.to(torch::kFloat64), want));
  }
  // Tensors that shared a storage in Python share it here too.
  CHECK(sd.find("transposed").storage().is_alias_of(sd.find("base").storage()));
  CHECK(sd.find("corner").storage_offset() > 0);
}

}  // namespace

TEST_CASE("weights: the zip format gives the tensors torch.save wrote", "[weights]") {
  check_small(load_state_dict_file(refs() / "small_zip.pt"));
}

TEST_CASE("weights: the legacy format gives the tensors torch.save wrote", "[weights]") {
  check_small(load_state_dict_file(refs() / "small_legacy.pt"));
}

TEST_CASE("weights: the real legacy Lite0 file reads as 296 tensors", "[weights]") {
#ifdef FTMETA_LITE0_WEIGHTS
  const fs::path file = FTMETA_LITE0_WEIGHTS;
  if (file.empty()) return;  // configured without the weights: lite0_* tests cover the failure
  const auto sd = load_state_dict_file(file);
  CHECK(sd.size() == 296);
  CHECK(sd.front().first == "_conv_stem.weight");
  CHECK(sd.front().second.sizes().vec() == std::vector<std::int64_t>{32, 3, 3, 3});
  CHECK(sd.find("_bn0.num_batches_tracked").scalar_type() == torch::kInt64);
  CHECK(sd.find("_bn0.num_batches_tracked").dim() == 0);
#endif
}

TEST_CASE("weights: wrapped checkpoints are unwrapped by the documented rule", "[weights]") {
  const auto want = ftmeta::test::load_npy(refs() / "wrapped_weight.npy");
  for (const char* name : {"wrapped_zip.pt", "wrapped_legacy.pt", "wrapped_twice_legacy.pt"}) {
    INFO(name);
    const auto sd = load_state_dict_file(refs() / name);
    REQUIRE(sd.size() == 2);
    CHECK(sd[0].first == "0.weight");
    CHECK(sd[1].first == "0.bias");
    CHECK(torch::equal(sd[0].second.to(torch::kFloat64), want));
  }
  const auto msg = load_error(refs() / "no_tensors.pt");
  CHECK_THAT(msg, Catch::Contains("no_tensors.pt") && Catch::Contains("not a state dict") && Catch::Contains("'not': str"));
}

TEST_CASE("weights: globals other than tensor rebuilders are refused", "[weights]") {
  for (const char* name : {"evil_zip.pt", "evil_legacy.pt"}) {
    const auto msg = load_error(refs() / name);
    CHECK_THAT(msg, Catch::Contains(name) && Catch::Contains("refused global 'posix.system'"));
  }
  // A storage type torch knows but ftmeta does not read (patched into the legacy file's GLOBAL line).
  auto bytes = read_bytes(refs() / "small_legacy.pt");
  const std::string from = "torch\nFloatStorage\n";
  const auto at = bytes.find(from);
  REQUIRE(at != std::string::npos);
  bytes.replace(at, from.size(), "torch\nQInt8Storage\n");
  CHECK_THAT(load_error(scratch("qint8.pt", bytes)), Catch::Contains("unsupported storage type (dtype) 'torch.QInt8Storage'"));
  bytes = read_bytes(refs() / "small_legacy.pt");
  bytes.replace(bytes.find("collections\nOrderedDict\n"), 24, "builtins\neval\n");
  CHECK_THAT(load_error(scratch("eval.pt", bytes)), Catch::Contains("refused global 'builtins.eval'"));
}

TEST_CASE("weights: views past their storage are refused", "[weights]") {
  for (const char* name : {"bad_view_zip.pt", "bad_view_legacy.pt"}) {
    INFO(name);
    CHECK_THAT(load_error(refs() / name),
               Catch::Contains(name) && Catch::Contains("reaches element 999") && Catch::Contains("which holds 10"));
  }
}

TEST_CASE("weights: lying element counts and truncated files are refused", "[weights]") {
  CHECK_THAT(load_error(refs() / "lying_count_legacy.pt"), Catch::Contains("holds 1099511627776 elements, but its tensors say"));
  CHECK_THAT(load_error(refs() / "short_count_legacy.pt"), Catch::Contains("elements, but its tensors say"));

  const auto legacy = read_bytes(refs() / "small_legacy.pt");
  std::size_t data_start = 0;
  std::ifstream(refs() / "legacy_data_start.txt") >> data_start;
  REQUIRE(data_start > 0);
  REQUIRE(data_start < legacy.size());
  CHECK_THAT(load_error(scratch("cut.pt", legacy.substr(0, data_start + 20))), Catch::Contains("is truncated"));
  CHECK_THAT(load_error(scratch("cut.pt", legacy.substr(0, data_start - 3))), Catch::Contains("more bytes"));
  // Every cut, in the pickles or in the data, is an error that names the file.
  for (std::size_t cut = 0; cut < legacy.size(); cut += (cut < data_start ? 7 : 97)) {
    INFO("legacy cut at " << cut);
    CHECK_THAT(load_error(scratch("cut.pt", legacy.substr(0, cut))), Catch::Contains("cut.pt"));
  }
  const auto zip = read_bytes(refs() / "small_zip.pt");
  for (std::size_t cut = 0; cut < zip.size(); cut += 331) {
    INFO("zip cut at " << cut);
    CHECK_THAT(load_error(scratch("cut_zip.pt", zip.substr(0, cut))), Catch::Contains("cut_zip.pt"));
  }
}

TEST_CASE("weights: garbage and hand-made pickles give WeightsError, never a crash", "[weights]") {
  CHECK_THAT(load_error(refs() / "does_not_exist.pt"), Catch::Contains("does_not_exist.pt: cannot be opened"));
  CHECK_THAT(load_error(scratch("text.pt", "hello, I am not a weights file\n")), Catch::Contains("not a PyTorch weights file"));
  CHECK_THAT(load_error(scratch("empty.pt", "")), Catch::Contains("not a PyTorch weights file"));
  CHECK_THAT(load_error(scratch("st.pt", std::string("\x10\x00\x00\x00\x00\x00\x00\x00{}", 10))), Catch::Contains("safetensors"));
  CHECK_THAT(load_error(scratch("op.pt", "\x80\x02\xff.")), Catch::Contains("unknown or unsupported pickle opcode 0xff"));
  CHECK_THAT(load_error(scratch("len.pt", std::string("\x80\x02X\xff\xff\xff\x7f", 8))),
             Catch::Contains("len.pt") && Catch::Contains("more bytes"));
  CHECK_THAT(load_error(scratch("stack.pt", "\x80\x02s.")), Catch::Contains("stack underflow"));
  CHECK_THAT(load_error(scratch("memo.pt", "\x80\x02h\x05.")), Catch::Contains("memo entry 5 is read before"));
  CHECK_THAT(load_error(scratch("magic.pt", "\x80\x02K\x01.")), Catch::Contains("wrong magic number"));
  CHECK_THAT(load_error(scratch("zip.pt", std::string("PK\x03\x04garbage", 11))), Catch::Contains("zip.pt: is not a readable zip archive"));
}

TEST_CASE("weights: flipped bytes give a state dict or a WeightsError", "[weights]") {
  torch::manual_seed(3);
  for (const char* name : {"small_legacy.pt", "small_zip.pt"}) {
    const auto good = read_bytes(refs() / name);
    const bool zip = std::string(name).find("zip") != std::string::npos;
    for (int trial = 0; trial < (zip ? FTMETA_WEIGHTS_FUZZ_TRIALS / 8 : FTMETA_WEIGHTS_FUZZ_TRIALS); ++trial) {
      auto bytes = good;
      const auto flips = torch::randint(1, 4, {1}).item<std::int64_t>();
      for (std::int64_t f = 0; f < flips; ++f) {
        // Mostly in the pickles (the first 2 KiB), where the structure is.
        const auto span = static_cast<std::int64_t>(std::min<std::size_t>(bytes.size(), zip ? bytes.size() : 2048));
        const auto at = static_cast<std::size_t>(torch::randint(0, span, {1}).item<std::int64_t>());
        bytes[at] = static_cast<char>(torch::randint(0, 256, {1}).item<std::int64_t>());
      }
      const auto file = scratch("flipped.pt", bytes);
      INFO(name << " trial " << trial);
      try {
        const auto sd = load_state_dict_file(file);
        for (const auto& [k, t] : sd) (void)t.sum();  // every view must be readable
      } catch (const ftmeta::WeightsError& e) {
        CHECK_THAT(std::string(e.what()), Catch::Contains("flipped.pt"));
      }
    }
  }
}

TEST_CASE("weights: a text integer beyond 64 bits is refused (found by fuzz/pickle_fuzz.cpp)", "[weights]") {
  CHECK_THAT(load_error(scratch("big_int.pt", "\x80\x02L9460794607431612352L\n.")), Catch::Contains("a text integer beyond 64 bits"));
  CHECK_THAT(load_error(scratch("big_int2.pt", "\x80\x02I-99999999999999999999\n.")), Catch::Contains("malformed text integer"));
}

}  // namespace unit_weights_reader

// Tests of safetensors import (every dtype, zero-copy, strict layout checks) and export (a round
// trip through Python's safetensors and torch; references by tests/python/refs/models.py).
#include <ftmeta/nn/model.hpp>
#include <ftmeta/nn/safetensors.hpp>

#include "support/npy.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_weights_safetensors {

using namespace ftmeta::nn;
namespace fs = std::filesystem;

namespace {

fs::path refs() { return ftmeta::test::refs_dir() / "models"; }

fs::path scratch_dir() {
  const auto dir = fs::temp_directory_path() / ("ftmeta_safetensors_tests_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}
fs::path scratch(const std::string& name, const std::string& bytes) {
  const auto path = scratch_dir() / name;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}
std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
// A safetensors file: the header as given (not padded), then `data`.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}
std::string load_error(const fs::path& file) {
  try {
    load_safetensors(file);
  } catch (const ftmeta::WeightsError& e) {
    return e.what();
  }
  return "";
}

torch::Dtype python_dtype(const std::string& name) {
  static const std::map<std::string, torch::Dtype> names = {
      {"float64", torch::kFloat64}, {"float32", torch::kFloat32}, {"float16", torch::kFloat16},
      {"bfloat16", torch::kBFloat16}, {"int64", torch::kInt64}, {"int32", torch::kInt32},
      {"int16", torch::kInt16}, {"int8", torch::kInt8}, {"uint8", torch::kUInt8}, {"bool", torch::kBool},
      {"float8_e4m3fn", torch::kFloat8_e4m3fn}, {"float8_e5m2", torch::kFloat8_e5m2},
      {"complex64", torch::kComplexFloat}, {"uint16", torch::kUInt16}, {"uint32", torch::kUInt32},
      {"uint64", torch::kUInt64}};
  return names.at(name);
}

std::string python_executable() {
  if (const char* env = std::getenv("FTMETA_PYTHON"); env && *env) return env;
#ifdef FTMETA_PYTHON
  return FTMETA_PYTHON;
#else
  return std::string(FTMETA_SOURCE_DIR) + "/build/venv/bin/python";
#endif
}

}  // namespace

TEST_CASE("weights: safetensors of every dtype read bit for bit", "[weights][safetensors]") {
  SafetensorsMetadata meta;
  const auto sd = load_safetensors(refs() / "dtypes.safetensors", &meta);
  CHECK(meta == SafetensorsMetadata{{"what", "every dtype"}});
  std::ifstream list(refs() / "dtypes.txt");
  std::string line;
  std::size_t n = 0;
  while (std::getline(list, line)) {
    std::stringstream fields(line);
    std::string index, dtype, shape, name;
    std::getline(fields, index, '\t');
    std::getline(fields, dtype, '\t');
    std::getline(fields, shape, '\t');
    std::getline(fields, name);
    INFO(name << " " << dtype);
    const auto t = sd.find(name);
    REQUIRE(t.defined());
    CHECK(t.scalar_type() == python_dtype(dtype));
    std::string got_shape;
    for (std::int64_t d = 0; d < t.dim(); ++d) {
      if (d) got_shape += 'x';
      got_shape += std::to_string(t.size(d));
    }
    CHECK(got_shape == shape);
    const auto bytes = t.contiguous().reshape({-1}).view(torch::kUInt8);
    CHECK(torch::equal(bytes, ftmeta::test::load_npy(refs() / ("dtype_" + index + ".npy"))));
    ++n;
  }
  CHECK(n == sd.size());
  CHECK(n >= 19);
}

TEST_CASE("weights: safetensors tensors view the mapped file without copies", "[weights][safetensors]") {
  const auto sd = load_safetensors(refs() / "resnet18.safetensors");
  // The data section is tiled without gaps, so zero-copy tensors lie back to back in memory;
  // separately allocated copies would not.
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> ranges;
  for (const auto& [k, t] : sd)
    if (t.numel()) ranges.emplace_back(reinterpret_cast<std::uintptr_t>(t.data_ptr()),
                                       reinterpret_cast<std::uintptr_t>(t.data_ptr()) + t.nbytes());
  std::sort(ranges.begin(), ranges.end());
  REQUIRE(ranges.size() > 100);
  for (std::size_t i = 1; i < ranges.size(); ++i) CHECK(ranges[i].first == ranges[i - 1].second);
  // Writes go to private pages: the file is unchanged.
  const auto before = read_bytes(refs() / "resnet18.safetensors");
  sd.find("conv1.weight").fill_(7);
  CHECK(read_bytes(refs() / "resnet18.safetensors") == before);
}

TEST_CASE("weights: a safetensors file equals its torch.save twin and loads a backbone", "[weights][safetensors]") {
  SafetensorsMetadata meta;
  const auto st = load_safetensors(refs() / "resnet18.safetensors", &meta);
  const auto pth = load_state_dict_file(refs() / "resnet18.pth");
  CHECK(std::find(meta.begin(), meta.end(), std::pair<std::string, std::string>{"format", "pt"}) != meta.end());
  REQUIRE(st.size() == pth.size());
  for (const auto& [k, t] : pth) {
    INFO(k);
    CHECK(torch::equal(st.find(k), t));
  }
  ResNet net(backbones::ResNet18{});
  const auto report = backbone_module<backbones::ResNet18>::load(net, refs() / "resnet18.safetensors");  // by content
  CHECK(report.ok());
  CHECK(report.loaded == pth.size() - 2);
}

TEST_CASE("weights: malformed safetensors files are refused with the fault named", "[weights][safetensors]") {
  const std::string f32x2 = R"("dtype":"F32","shape":[2])";
  const std::string eight(8, '\0');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {std::string("\x05\x00\x00", 3), "too short"},
      {safetensors_bytes("{}", "").substr(0, 8) + "{", "says its safetensors header is 2 bytes, but only 1 follow"},
      {std::string("\xff\xff\xff\xff\xff\xff\xff\x7f{}", 10), "but only 2 follow"},
      {safetensors_bytes("[1]", ""), "expected the header to be a JSON object"},
      {safetensors_bytes(R"({"a":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}})", "x"), "dtype 'F4', which ftmeta does not read"},
      {safetensors_bytes(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", eight), "absurd shape"},
      {safetensors_bytes(R"({"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,8]}})", eight), "absurd number"},
      {safetensors_bytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight), "non-negative integers"},
      {safetensors_bytes(R"({"a":{)" + f32x2 + R"(,"data_offsets":[0,80]}})", eight), "outside the data section of 8 bytes"},
      {safetensors_bytes(R"({"a":{)" + f32x2 + R"(,"data_offsets":[4,0]}})", eight), "outside the data section"},
      {safetensors_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight), "spans 8 bytes, but F32 of its shape needs 12"},
      {safetensors_bytes(R"({"a":{)" + f32x2 + R"(,"data_offsets":[0,8]},"b":{)" + f32x2 + R"(,"data_offsets":[0,8]}})", eight), "overlap"},
      {safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight), "no tensor uses"},
      {safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", eight), "4 bytes after its last tensor"},
      {safetensors_bytes(R"({"a":{)" + f32x2 + R"(,"data_offsets":[0,8]},"a":{)" + f32x2 + R"(,"data_offsets":[0,8]}})", eight), "names 'a' twice"},
      {safetensors_bytes(R"({"__metadata__":{"k":1}})", ""), "__metadata__ entry 'k' is not a string"},
      {safetensors_bytes(R"({"a":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", std::string("\x01\x02", 2)), "holds byte 2"},
      {safetensors_bytes(R"({"a":{)" + f32x2 + "}}", eight), "lacks one of dtype, shape, data_offsets"},
      {safetensors_bytes(R"({"a":{)" + f32x2 + R"(,"data_offsets":[0,8],"x":1}})", eight), "unknown or repeated field 'x'"},
      {safetensors_bytes(R"({"a\ud800":{}})", ""), "unpaired surrogate"},
      {safetensors_bytes(R"({"a":{)" + f32x2 + R"(,"data_offsets":[0,8]}} x)", eight), "bytes after the header's JSON object"},
      {safetensors_bytes(R"({"a":{)" + f32x2 + R"(,"data_offsets":[0,8.0]}})", eight), "must hold integers"},
  };
  int i = 0;
  for (const auto& [bytes, want] : cases) {
    INFO("case " << i << ": " << want);
    CHECK_THAT(load_error(scratch("bad" + std::to_string(i++) + ".safetensors", bytes)), Catch::Contains(want));
  }
  // Every truncation of a real file is refused.
  const auto whole = read_bytes(refs() / "dtypes.safetensors");
  int refused = 0;
  for (std::size_t n = 0; n < whole.size(); n += 7) refused += !load_error(scratch("cut.safetensors", whole.substr(0, n))).empty();
  CHECK(refused == static_cast<int>((whole.size() + 6) / 7));
  CHECK_THAT(load_error(scratch_dir() / "absent.safetensors"), Catch::Contains("cannot be opened"));
}

TEST_CASE("weights: export as safetensors round-trips through Python", "[weights][safetensors]") {
  struct RoundHead : Head<BatchNorm1d, Linear<64>, ReLU, Linear<Classes>> {};
  struct RoundNet : Model<backbones::ResNet18, AvgPool, RoundHead> {};
  torch::manual_seed(21);
  Classifier<RoundNet> net(6);
  net->train();
  {
    torch::NoGradGuard no_grad;
    net->forward(torch::randn({4, 3, 32, 32}));  // BatchNorm statistics move off their defaults
  }
  net->eval();
  const auto dir = scratch_dir() / "roundtrip";
  fs::create_directories(dir);
  const auto x = torch::randn({3, 3, 48, 40});
  save_safetensors(dir / "model.safetensors", *net, {{"format", "pt"}});
  save_safetensors(dir / "input.safetensors", StateDict{{"x", x}});
  torch::Tensor logits;
  {
    torch::NoGradGuard no_grad;
    logits = net->forward(x);
  }

  // C++ reads its own file back, strictly.
  Classifier<RoundNet> again(6);
  CHECK(load_into(*again, dir / "model.safetensors").ok());
  again->eval();
  {
    torch::NoGradGuard no_grad;
    CHECK(torch::equal(again->forward(x), logits));
  }

  // Python's safetensors + torch load it strictly into the same model and run it.
  const std::string command = "OMP_NUM_THREADS=1 " + python_executable() + " " + FTMETA_SOURCE_DIR +
                              "/tests/python/refs/models.py roundtrip " + dir.string();
  INFO(command);
  REQUIRE(std::system(command.c_str()) == 0);
  const auto out = load_safetensors(dir / "output.safetensors");
  const auto py = out.find("logits");
  REQUIRE(py.defined());
  const double err = (py - logits).abs().max().item<double>();
  INFO("max abs error " << err);
  CHECK(err <= 1e-4 * logits.abs().max().item<double>());
  CHECK(torch::equal(out.find("bn_var"), net->named_buffers()["backbone.layer1.0.bn1.running_var"]));
  CHECK(out.find("tracked").item<std::int64_t>() == 1);

  CHECK_THROWS_WITH(save_safetensors(dir / "dup.safetensors", StateDict{{"a", x}, {"a", x}}), Catch::Contains("'a' is used twice"));
  CHECK_THROWS_WITH(save_safetensors(dir / "q.safetensors", StateDict{{"q", torch::zeros({2}, torch::kComplexDouble)}}),
                    Catch::Contains("tensor 'q' has dtype") && Catch::Contains("safetensors cannot hold"));
  fs::remove_all(scratch_dir());
}

}  // namespace unit_weights_safetensors

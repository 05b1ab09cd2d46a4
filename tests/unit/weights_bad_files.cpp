// Bad weights files stop before training: truncated files, lying lengths, another architecture and
// wrong shapes each give one line naming the file and, where the format names tensors, the first
// offending key (files derived from tests/python/refs/models.py's and timm_models.py's).
#include <ftmeta/nn/registry.hpp>

#include "support/npy.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <string>

namespace unit_weights_bad_files {

using namespace ftmeta::nn;

namespace {
std::filesystem::path scratch() {
  const auto dir = std::filesystem::temp_directory_path() / "ftmeta_bad_weights";
  std::filesystem::create_directories(dir);
  return dir;
}
std::string read(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
std::filesystem::path write(const std::string& name, const std::string& bytes) {
  const auto p = scratch() / name;
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}
// The message of loading `file` into registry model `model`, which must fail with one line.
std::string refusal(const std::string& model, const std::filesystem::path& file) {
  auto net = registry().find(model).make(3, {});
  const auto before = state_dict_of(*net.module).front().second.clone();
  try {
    net.load_backbone(file);
  } catch (const ftmeta::WeightsError& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find('\n') == std::string::npos);
    CHECK_THAT(msg, Catch::Contains(file.string()));
    CHECK(torch::equal(state_dict_of(*net.module).front().second, before));  // nothing loaded
    return msg;
  }
  FAIL("loaded " << file);
  return {};
}
std::filesystem::path timm(const std::string& name) { return ftmeta::test::refs_dir() / "timm_models" / name; }
}  // namespace

TEST_CASE("bad weights: truncated files", "[weights][bad]") {
  const auto st = read(timm("mobilenetv3_small_100") / "model.safetensors");
  CHECK_THAT(refusal("mobilenetv3_small_100", write("cut.safetensors", st.substr(0, st.size() * 3 / 5))),
             Catch::Contains("has data_offsets") && Catch::Contains("tensor '"));
  CHECK_THAT(refusal("mobilenetv3_small_100", write("cut_header.safetensors", st.substr(0, 100))),
             Catch::Contains("header is"));

  const auto legacy = read(timm("mobilenetv3_small_100_legacy.pth"));
  CHECK_THAT(refusal("mobilenetv3_small_100", write("cut_legacy.pth", legacy.substr(0, legacy.size() * 3 / 5))),
             Catch::Contains("is truncated") && Catch::Contains("tensor '"));

  const auto zip = read(ftmeta::test::refs_dir() / "models" / "resnet18.pth");
  refusal("resnet18", write("cut_zip.pth", zip.substr(0, zip.size() / 2)));  // the zip's directory is gone: no key to name
}

TEST_CASE("bad weights: lying lengths", "[weights][bad]") {
  auto st = read(timm("mobilenetv3_small_100") / "model.safetensors");
  auto header_too_long = st;
  header_too_long[5] = '\x01';  // the header length now says more than the file holds
  CHECK_THAT(refusal("mobilenetv3_small_100", write("long_header.safetensors", header_too_long)),
             Catch::Contains("safetensors header is"));
  // A shape that does not match the bytes its offsets give, same header length.
  const std::string shape = "\"conv_stem.weight\":{\"dtype\":\"F32\",\"shape\":[16,3,3,3]";
  const auto at = st.find(shape);
  REQUIRE(at != std::string::npos);
  st.replace(at, shape.size(), "\"conv_stem.weight\":{\"dtype\":\"F32\",\"shape\":[17,3,3,3]");
  CHECK_THAT(refusal("mobilenetv3_small_100", write("lying_shape.safetensors", st)),
             Catch::Contains("tensor 'conv_stem.weight' spans"));
}

TEST_CASE("bad weights: another architecture and wrong shapes name the first offending key", "[weights][bad]") {
  CHECK_THAT(refusal("mobilenet_v2", ftmeta::test::refs_dir() / "models" / "resnet18.pth"),
             Catch::Contains("first at 'features.0.0.weight' (missing from the file)") &&
                 Catch::Contains("unexpected (not in the module): conv1.weight"));
  CHECK_THAT(refusal("efficientnet_b0", timm("convnext_tiny")), Catch::Contains("convnext_tiny/model.safetensors: ") &&
                                                                     Catch::Contains("first at 'conv_stem.weight' (missing from the file)"));
  auto sd = load_state_dict_file(ftmeta::test::refs_dir() / "models" / "resnet18.pth");
  for (auto& [k, t] : sd)
    if (k == "layer2.0.conv1.weight") t = torch::zeros({128, 64, 5, 5});
  const auto wrong = scratch() / "wrong_shape.safetensors";
  save_safetensors(wrong, sd);
  CHECK_THAT(refusal("resnet18", wrong),
             Catch::Contains("first at 'layer2.0.conv1.weight' (file [128, 64, 5, 5], module [128, 64, 3, 3])"));
  CHECK_THAT(refusal("resnet18", scratch()), Catch::Contains("is a folder without model.safetensors"));
}

}  // namespace unit_weights_bad_files

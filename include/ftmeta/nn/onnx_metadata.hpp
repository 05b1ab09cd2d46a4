// ftmeta/nn/onnx_metadata.hpp: what ftmeta stores in an exported ONNX file's metadata_props (class
// names, model, preprocessing) and how to read it back, with the ONNX library alone (no LibTorch).
#pragma once

#include <ftmeta/core/error.hpp>

#include <onnx/onnx_pb.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace ftmeta::nn {

/// How an image becomes the network's input, as the evaluation pipeline did it
/// (`Resize<S>, CenterCrop<H, W>, ToTensor, Normalize<Stats>`): decode as 8-bit colour, resize the
/// shorter side to `resize` (torchvision's rule; OpenCV area averaging when shrinking, bilinear
/// otherwise), crop the centre to crop_height x crop_width, RGB, x / 255, then (x - mean) / std.
struct OnnxPreprocessing {
  std::int64_t resize = 0;  ///< the shorter side after resizing (0: no resize)
  std::int64_t crop_height = 0, crop_width = 0;  ///< the network's input size (the centre crop)
  std::int64_t channels = 3;                     ///< 3: RGB
  std::array<double, 3> mean{0.485, 0.456, 0.406};
  std::array<double, 3> std{0.229, 0.224, 0.225};
};

/// What an ftmeta ONNX file says besides its graph.
struct OnnxModelInfo {
  std::vector<std::string> class_names;  ///< output index -> class (folder) name
  std::string model;                     ///< the model spec's description
  std::string model_name;                ///< a short name (the backbone's, or the user's)
  OnnxPreprocessing preprocessing;
  std::string input_name = "images";     ///< [batch, channels, crop_height, crop_width] float32
  std::string output_name = "logits";    ///< [batch, classes] float32
  std::int64_t batch = 0;                ///< 0: any batch (a dynamic axis); N: exactly N images per run
};

/// The metadata_props keys ftmeta writes (all prefixed "ftmeta.").
namespace onnx_keys {
inline constexpr const char* format = "ftmeta.format";  // "1"
inline constexpr const char* class_names = "ftmeta.class_names";  // one name per line
inline constexpr const char* model = "ftmeta.model";
inline constexpr const char* model_name = "ftmeta.model_name";
inline constexpr const char* resize = "ftmeta.preprocess.resize";
inline constexpr const char* input_size = "ftmeta.preprocess.input_size";  // "H W"
inline constexpr const char* channels = "ftmeta.preprocess.channels";
inline constexpr const char* mean = "ftmeta.preprocess.mean";  // "0.485 0.456 0.406" (RGB)
inline constexpr const char* std = "ftmeta.preprocess.std";
inline constexpr const char* pipeline = "ftmeta.preprocess.pipeline";  // the steps, in words
}  // namespace onnx_keys

namespace detail {
inline std::string onnx_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
inline std::vector<double> onnx_numbers(const std::string& key, const std::string& text, const std::string& where) {
  std::istringstream in(text);
  std::vector<double> v;
  double x;
  while (in >> x) v.push_back(x);
  if (!in.eof()) throw FileError(where + ": metadata " + key + " is not a list of numbers: '" + text + "'");
  return v;
}
}  // namespace detail

/// Stores `info` in the model's metadata_props (replacing ftmeta's keys, keeping any others).
inline void write_onnx_metadata(onnx::ModelProto& model, const OnnxModelInfo& info) {
  const auto& p = info.preprocessing;
  std::map<std::string, std::string> kv;
  kv[onnx_keys::format] = "1";
  std::string names;
  for (const auto& n : info.class_names) names += n + '\n';
  kv[onnx_keys::class_names] = names;
  kv[onnx_keys::model] = info.model;
  kv[onnx_keys::model_name] = info.model_name;
  kv[onnx_keys::resize] = std::to_string(p.resize);
  kv[onnx_keys::input_size] = std::to_string(p.crop_height) + " " + std::to_string(p.crop_width);
  kv[onnx_keys::channels] = std::to_string(p.channels);
  kv[onnx_keys::mean] = detail::onnx_number(p.mean[0]) + " " + detail::onnx_number(p.mean[1]) + " " + detail::onnx_number(p.mean[2]);
  kv[onnx_keys::std] = detail::onnx_number(p.std[0]) + " " + detail::onnx_number(p.std[1]) + " " + detail::onnx_number(p.std[2]);
  kv[onnx_keys::pipeline] =
      (p.resize ? "resize shorter side to " + std::to_string(p.resize) + " (area when shrinking, else bilinear), " : std::string()) +
      "center crop " + std::to_string(p.crop_height) + "x" + std::to_string(p.crop_width) +
      ", RGB, x/255, (x - mean) / std, NCHW float32";
  auto* props = model.mutable_metadata_props();
  for (int i = props->size() - 1; i >= 0; --i)
    if (kv.count(props->Get(i).key())) props->DeleteSubrange(i, 1);
  for (const auto& [k, v] : kv) {
    auto* e = model.add_metadata_props();
    e->set_key(k);
    e->set_value(v);
  }
}

/// Reads a serialized ONNX model; FileError naming the file when it is missing or not ONNX.
inline onnx::ModelProto read_onnx_model(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path.string() + ": no such file");
  onnx::ModelProto model;
  if (!model.ParseFromIstream(&in) || model.ir_version() <= 0 || !model.has_graph() || model.graph().node_size() == 0 ||
      model.opset_import_size() == 0)
    throw FileError(path.string() + ": not an ONNX model (it does not parse as an ONNX ModelProto with a graph)");
  return model;
}

/// ftmeta's metadata of a model; FileError naming the file and the missing or malformed key for
/// an ONNX file that ftmeta did not export.
inline OnnxModelInfo read_onnx_info(const onnx::ModelProto& model, const std::string& where) {
  std::map<std::string, std::string> kv;
  for (const auto& e : model.metadata_props()) kv[e.key()] = e.value();
  const auto need = [&](const char* key) -> const std::string& {
    const auto it = kv.find(key);
    if (it == kv.end())
      throw FileError(where + ": an ONNX model without ftmeta's metadata (no " + std::string(key) +
                      " in metadata_props); export it with ftmeta::nn::export_onnx");
    return it->second;
  };
  OnnxModelInfo info;
  need(onnx_keys::format);
  std::istringstream names(need(onnx_keys::class_names));
  for (std::string line; std::getline(names, line);) info.class_names.push_back(line);
  if (info.class_names.empty()) throw FileError(where + ": metadata " + std::string(onnx_keys::class_names) + " is empty");
  info.model = need(onnx_keys::model);
  if (kv.count(onnx_keys::model_name)) info.model_name = kv[onnx_keys::model_name];
  auto& p = info.preprocessing;
  const auto resize = detail::onnx_numbers(onnx_keys::resize, need(onnx_keys::resize), where);
  const auto size = detail::onnx_numbers(onnx_keys::input_size, need(onnx_keys::input_size), where);
  const auto channels = detail::onnx_numbers(onnx_keys::channels, need(onnx_keys::channels), where);
  const auto mean = detail::onnx_numbers(onnx_keys::mean, need(onnx_keys::mean), where);
  const auto std = detail::onnx_numbers(onnx_keys::std, need(onnx_keys::std), where);
  if (resize.size() != 1 || resize[0] < 0 || size.size() != 2 || size[0] < 1 || size[1] < 1 || channels.size() != 1 ||
      mean.size() != 3 || std.size() != 3 || std[0] <= 0 || std[1] <= 0 || std[2] <= 0)
    throw FileError(where + ": malformed ftmeta preprocessing metadata (resize, input_size H W, channels, 3 means, 3 positive stds)");
  p.resize = static_cast<std::int64_t>(resize[0]);
  p.crop_height = static_cast<std::int64_t>(size[0]);
  p.crop_width = static_cast<std::int64_t>(size[1]);
  p.channels = static_cast<std::int64_t>(channels[0]);
  for (int c = 0; c < 3; ++c) p.mean[c] = mean[c], p.std[c] = std[c];
  if (model.graph().input_size() > 0) {
    info.input_name = model.graph().input(0).name();
    const auto& shape = model.graph().input(0).type().tensor_type().shape();
    if (shape.dim_size() > 0 && shape.dim(0).has_dim_value()) info.batch = shape.dim(0).dim_value();
  }
  if (model.graph().output_size() > 0) info.output_name = model.graph().output(0).name();
  return info;
}

/// Reads a file's ONNX model and ftmeta's metadata from it.
inline OnnxModelInfo read_onnx_info(const std::filesystem::path& path) { return read_onnx_info(read_onnx_model(path), path.string()); }

}  // namespace ftmeta::nn

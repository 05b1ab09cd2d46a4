// ftmeta/nn/preprocess.hpp: the preprocessing weights expect (mean, std, input size, interpolation, crop_pct) from timm's config.json or a backbone descriptor, and the evaluation pipeline derived from it.
// ftmeta:pure
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/nn/backbone_spec.hpp>
#include <ftmeta/nn/detail/json.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>

namespace ftmeta::nn {

/// What the weights expect of an image: per-channel mean and std (on [0, 1] pixels), the square
/// input size, the resize interpolation ("bilinear", "bicubic", "nearest") and crop_pct (the
/// evaluation crop's share of the resized image, as timm's pretrained_cfg). `source` says where
/// they came from (a config.json, or "descriptor NAME").
struct Preprocessing {
  std::array<double, 3> mean{0.485, 0.456, 0.406};
  std::array<double, 3> std{0.229, 0.224, 0.225};
  std::int64_t input_size = 224;
  std::string interpolation = "bilinear";
  double crop_pct = 0.875;
  std::string source;

  /// The evaluation pipeline: resize the shorter side to floor(input_size / crop_pct) (timm's
  /// scale_size), centre-crop input_size x input_size, normalize with mean and std.
  struct EvalPipeline {
    std::int64_t resize_shorter = 256, crop = 224;
    std::string interpolation = "bilinear";
    std::array<double, 3> mean{}, std{};
  };
  EvalPipeline eval_pipeline() const {
    return {static_cast<std::int64_t>(std::floor(static_cast<double>(input_size) / crop_pct)), input_size, interpolation,
            mean, std};
  }

  /// One line, stored in checkpoints and read back by parse():
  /// "mean=0.485,0.456,0.406 std=0.229,0.224,0.225 size=224 interpolation=bicubic crop_pct=0.875".
  std::string serialize() const {
    std::ostringstream out;
    out.precision(17);
    out << "mean=" << mean[0] << ',' << mean[1] << ',' << mean[2] << " std=" << std[0] << ',' << std[1] << ',' << std[2]
        << " size=" << input_size << " interpolation=" << interpolation << " crop_pct=" << crop_pct;
    return out.str();
  }
  /// The inverse of serialize(); UsageError naming the field for anything else.
  static Preprocessing parse(std::string_view line, std::string source = "checkpoint") {
    Preprocessing p;
    p.source = std::move(source);
    std::istringstream in{std::string(line)};
    std::string field;
    int seen = 0;
    while (in >> field) {
      const auto eq = field.find('=');
      const std::string key = field.substr(0, eq), value = eq == std::string::npos ? "" : field.substr(eq + 1);
      const auto bad = [&] { throw UsageError("preprocessing '" + std::string(line) + "': bad field '" + field + "'"); };
      const auto triple = [&](std::array<double, 3>& out) {
        std::istringstream v(value);
        char c1 = 0, c2 = 0;
        if (!(v >> out[0] >> c1 >> out[1] >> c2 >> out[2]) || c1 != ',' || c2 != ',' || !v.eof()) bad();
      };
      if (key == "mean") triple(p.mean), seen |= 1;
      else if (key == "std") triple(p.std), seen |= 2;
      else if (key == "size") {
        std::istringstream v(value);
        if (!(v >> p.input_size) || p.input_size < 1 || !v.eof()) bad();
        seen |= 4;
      } else if (key == "interpolation") p.interpolation = value, seen |= 8;
      else if (key == "crop_pct") {
        std::istringstream v(value);
        if (!(v >> p.crop_pct) || !(p.crop_pct > 0 && p.crop_pct <= 1) || !v.eof()) bad();
        seen |= 16;
      } else bad();
    }
    if (seen != 31) throw UsageError("preprocessing '" + std::string(line) + "': needs mean, std, size, interpolation and crop_pct");
    return p;
  }
  bool operator==(const Preprocessing& o) const {
    return mean == o.mean && std == o.std && input_size == o.input_size && interpolation == o.interpolation &&
           crop_pct == o.crop_pct;
  }
};

/// A descriptor's preprocessing: its mean and std, and its input_size, crop_pct and
/// interpolation when it states them (else 224, 0.875, bilinear: torchvision's evaluation).
template <BackboneDescriptor B>
Preprocessing preprocessing_of() {
  Preprocessing p;
  if constexpr (requires { B::mean; B::std; })
    for (int c = 0; c < 3; ++c) p.mean[c] = B::mean[c], p.std[c] = B::std[c];
  if constexpr (requires { B::input_size; }) p.input_size = B::input_size;
  if constexpr (requires { B::crop_pct; }) p.crop_pct = B::crop_pct;
  if constexpr (requires { B::interpolation; }) p.interpolation = std::string(B::interpolation);
  p.source = "descriptor " + std::string(B::name);
  return p;
}

/// Reads timm's config.json (`pretrained_cfg`: mean, std, input_size [3, H, W], interpolation,
/// crop_pct); fields it lacks keep `fallback`'s values. WeightsError naming the file and the field
/// for a file that is not JSON or a field of the wrong kind.
inline Preprocessing read_timm_config(const std::filesystem::path& file, Preprocessing fallback) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw WeightsError(file.string() + ": cannot be opened");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  detail::Json root;
  try {
    root = detail::JsonParser(text).parse();
  } catch (const std::runtime_error& e) {
    throw WeightsError(file.string() + ": " + e.what());
  }
  const auto* cfg = root.get("pretrained_cfg");
  if (!cfg) cfg = &root;  // a bare pretrained_cfg
  if (cfg->type != detail::Json::Type::Object) throw WeightsError(file.string() + ": pretrained_cfg is not an object");
  Preprocessing p = std::move(fallback);
  const auto fail = [&](std::string_view field, std::string_view want) -> void {
    throw WeightsError(file.string() + ": pretrained_cfg." + std::string(field) + " is not " + std::string(want));
  };
  const auto triple = [&](std::string_view field, std::array<double, 3>& out) {
    const auto* v = cfg->get(field);
    if (!v) return;
    if (v->type != detail::Json::Type::Array || v->items.size() != 3) fail(field, "a list of 3 numbers");
    for (int c = 0; c < 3; ++c) {
      if (v->items[c].type != detail::Json::Type::Number) fail(field, "a list of 3 numbers");
      out[c] = v->items[c].number;
    }
  };
  triple("mean", p.mean);
  triple("std", p.std);
  for (double s : p.std)
    if (!(s > 0)) fail("std", "positive");
  if (const auto* v = cfg->get("input_size")) {
    if (v->type != detail::Json::Type::Array || v->items.size() != 3 || v->items[1].type != detail::Json::Type::Number ||
        v->items[2].type != detail::Json::Type::Number || v->items[1].number != v->items[2].number || v->items[1].number < 1)
      fail("input_size", "[channels, size, size] with a positive square size");
    p.input_size = static_cast<std::int64_t>(v->items[1].number);
  }
  if (const auto* v = cfg->get("interpolation")) {
    if (v->type != detail::Json::Type::String || (v->text != "bilinear" && v->text != "bicubic" && v->text != "nearest"))
      fail("interpolation", "\"bilinear\", \"bicubic\" or \"nearest\"");
    p.interpolation = v->text;
  }
  if (const auto* v = cfg->get("crop_pct")) {
    if (v->type != detail::Json::Type::Number || !(v->number > 0 && v->number <= 1)) fail("crop_pct", "a number in (0, 1]");
    p.crop_pct = v->number;
  }
  p.source = file.string();
  return p;
}

/// The preprocessing of a weights path: the config.json of a folder (or next to a file named as
/// the hub names them, model.safetensors or pytorch_model.bin) read as timm's, else `fallback`
/// (the backbone descriptor's, see preprocessing_of).
inline Preprocessing preprocessing_for_weights(const std::filesystem::path& weights, Preprocessing fallback) {
  std::error_code ec;
  const bool hub_file = weights.filename() == "model.safetensors" || weights.filename() == "pytorch_model.bin";
  const auto folder = std::filesystem::is_directory(weights, ec) ? weights : hub_file ? weights.parent_path() : std::filesystem::path();
  const auto config = folder / "config.json";
  if (!folder.empty() && std::filesystem::is_regular_file(config, ec)) return read_timm_config(config, std::move(fallback));
  return fallback;
}

}  // namespace ftmeta::nn

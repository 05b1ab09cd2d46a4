// ftmeta/nn/detail/lite0_spec.hpp: the EfficientNet-Lite0 architecture as data (stages, names), no torch.
// ftmeta:pure
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace ftmeta::nn {

/// One stage of MBConv blocks; its first block has `stride`, the others stride 1.
struct Lite0Stage {
  std::string_view name;
  std::int64_t kernel, stride, expand, out, repeats;
};

/// EfficientNet-Lite0 (width 1.0, depth 1.0): ReLU6, no squeeze-excitation, stem 32, head 1280.
inline constexpr std::array<Lite0Stage, 7> lite0_stages = {{
    {"stage1", 3, 1, 1, 16, 1},
    {"stage2", 3, 2, 6, 24, 2},
    {"stage3", 5, 2, 6, 40, 2},
    {"stage4", 3, 2, 6, 80, 3},
    {"stage5", 5, 1, 6, 112, 3},
    {"stage6", 5, 2, 6, 192, 4},
    {"stage7", 3, 1, 6, 320, 1},
}};

/// The parts a Lite0's parameters fall into, input to output (for freezing): "stem", "stage1" ..
/// "stage7", "head", and "classifier" (present only with num_classes > 0).
inline constexpr std::array<std::string_view, 10> lite0_stage_names = {
    "stem", "stage1", "stage2", "stage3", "stage4", "stage5", "stage6", "stage7", "head", "classifier"};

/// The number of MBConv blocks (`_blocks.0` .. `_blocks.15`).
inline constexpr std::int64_t lite0_block_count = [] {
  std::int64_t n = 0;
  for (const auto& s : lite0_stages) n += s.repeats;
  return n;
}();

/// The part of a Lite0 that parameter or buffer `name` belongs to (one of lite0_stage_names),
/// or "" for a name that is not Lite0's.
///   static_assert(lite0_stage_of("_blocks.4._bn0.weight") == "stage3");
constexpr std::string_view lite0_stage_of(std::string_view name) {
  const auto under = [&](std::string_view prefix) { return name.substr(0, prefix.size()) == prefix; };
  if (under("_conv_stem.") || under("_bn0.")) return "stem";
  if (under("_conv_head.") || under("_bn1.")) return "head";
  if (under("_fc.")) return "classifier";
  if (!under("_blocks.")) return "";
  std::int64_t block = 0;
  std::size_t i = 8;
  if (i >= name.size() || name[i] < '0' || name[i] > '9') return "";
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9' && block < 1000; ++i) block = block * 10 + (name[i] - '0');
  if (i >= name.size() || name[i] != '.') return "";
  for (const auto& s : lite0_stages) {
    if (block < s.repeats) return s.name;
    block -= s.repeats;
  }
  return "";
}

}  // namespace ftmeta::nn

// Compile-only checks of the EfficientNet-Lite0 architecture table and its stage naming.
#include <ftmeta/nn/detail/lite0_spec.hpp>

namespace {
using namespace ftmeta::nn;

static_assert(lite0_block_count == 16);
static_assert(lite0_stages.front().out == 16 && lite0_stages.back().out == 320);
static_assert(lite0_stage_of("_conv_stem.weight") == "stem");
static_assert(lite0_stage_of("_bn0.running_mean") == "stem");
static_assert(lite0_stage_of("_blocks.0._depthwise_conv.weight") == "stage1");
static_assert(lite0_stage_of("_blocks.1._bn0.weight") == "stage2");
static_assert(lite0_stage_of("_blocks.2._bn0.weight") == "stage2");
static_assert(lite0_stage_of("_blocks.4._bn0.weight") == "stage3");
static_assert(lite0_stage_of("_blocks.14._project_conv.weight") == "stage6");
static_assert(lite0_stage_of("_blocks.15._bn2.num_batches_tracked") == "stage7");
static_assert(lite0_stage_of("_blocks.16._bn2.weight") == "");  // there are 16 blocks
static_assert(lite0_stage_of("_blocks.x.weight") == "");
static_assert(lite0_stage_of("_blocks.3") == "");
static_assert(lite0_stage_of("_conv_head.weight") == "head");
static_assert(lite0_stage_of("_bn1.bias") == "head");
static_assert(lite0_stage_of("_fc.weight") == "classifier");
static_assert(lite0_stage_of("_fc") == "");
static_assert(lite0_stage_of("layer1.0.conv1.weight") == "");
// every stage name that lite0_stage_of returns is listed, in order
static_assert(lite0_stage_names[1] == lite0_stages[0].name && lite0_stage_names[7] == lite0_stages[6].name);
}  // namespace

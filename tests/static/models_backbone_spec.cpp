// Compile-only tests of the backbone descriptors: if it compiles, they pass.
#include <ftmeta/nn/model_spec.hpp>

namespace {
using namespace ftmeta::nn;

static_assert(BackboneDescriptor<backbones::ResNet18> && BackboneDescriptor<backbones::ResNet34> &&
              BackboneDescriptor<backbones::ResNet50> && BackboneDescriptor<backbones::MobileNetV2> &&
              BackboneDescriptor<backbones::EfficientNetLite0>);
static_assert(!BackboneDescriptor<int> && !BackboneDescriptor<backbones::TorchvisionResNet>);

// Feature widths reach the head's check: ResNet-50 with concat pooling gives 4096.
struct Wide : Model<backbones::ResNet50, ConcatPool, Head<Linear<256, 4096>, ReLU, Linear<Classes>>> {};
static_assert(Wide::feature_width == 4096);
struct Small : Model<backbones::ResNet18, MaxPool, Head<Linear<Classes, 512>>> {};
static_assert(Small::feature_width == 512);
struct Mobile : Model<backbones::MobileNetV2, AvgPool, Head<Linear<Classes, 1280>>> {};
static_assert(Mobile::feature_width == 1280);

// Every stage name is what stage_of gives for some key; the classifier belongs to none.
static_assert(backbones::ResNet34::stage_of("layer4.2.bn2.num_batches_tracked") == backbones::ResNet34::stages[4]);
static_assert(backbones::ResNet50::stage_of("layer2.0.downsample.1.running_var") == "layer2");
static_assert(backbones::ResNet50::stage_of("fc.bias").empty() && backbones::ResNet50::stage_of("layer").empty());
static_assert(backbones::MobileNetV2::stage_of("features.4.conv.1.0.weight") == "stage3");   // table row 3: features.4-6
static_assert(backbones::MobileNetV2::stage_of("features.11.conv.0.1.bias") == "stage5");   // row 5: features.11-13
static_assert(backbones::MobileNetV2::stage_of("features.x.0.weight").empty());
static_assert(backbones::EfficientNetLite0::stage_of("_blocks.15._bn2.bias") == "stage7");
static_assert(backbones::MobileNetV2::mean[0] == backbones::ResNet18::mean[0]);
}  // namespace

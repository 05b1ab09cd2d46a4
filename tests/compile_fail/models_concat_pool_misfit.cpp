// expect: stated input width .* does not match the width it receives from the backbone
// Concat pooling doubles MobileNetV2's 1280 features: a head stating 1280 misfits.
#include <ftmeta/nn/model_spec.hpp>
using namespace ftmeta::nn;
#ifdef FTMETA_CF_OK
struct Net : Model<backbones::MobileNetV2, ConcatPool, Head<BatchNorm1d, Linear<Classes, 2560>>> {};
#else
struct Net : Model<backbones::MobileNetV2, ConcatPool, Head<BatchNorm1d, Linear<Classes, 1280>>> {};
#endif
static_assert(Net::feature_width == 2560);

// expect: stated input width .* does not match the width it receives from the backbone
// A head whose first layer states an input width the backbone does not give.
#include <ftmeta/nn/model_spec.hpp>
using namespace ftmeta::nn;
#ifdef FTMETA_CF_OK
struct Net : Model<backbones::EfficientNetLite0, AvgPool, Head<Linear<Classes, 1280>>> {};
#else
struct Net : Model<backbones::EfficientNetLite0, AvgPool, Head<Linear<Classes, 2048>>> {};
#endif
static_assert(Net::feature_width == 1280);

// expect: Backbone must be a backbone descriptor \(name, feature_width, stages, stage_of\)
// A model whose backbone is not a descriptor (here: a descriptor-like struct without stages).
#include <ftmeta/nn/model_spec.hpp>
#include <string_view>
using namespace ftmeta::nn;
#ifdef FTMETA_CF_OK
using Backbone = backbones::ResNet34;
#else
struct Backbone {
  static constexpr std::string_view name = "mine";
  static constexpr std::int64_t feature_width = 512;
};
#endif
struct Net : Model<Backbone, AvgPool, Head<Linear<Classes>>> {};
static_assert(Net::feature_width == 512);

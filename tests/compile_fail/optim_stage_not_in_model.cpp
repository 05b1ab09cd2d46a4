// expect: a Group or Phase names a part or backbone stage the model does not have
// needs: torch
// A Group on a backbone stage that EfficientNet-Lite0 does not have (its stages end at stage7).
#include <ftmeta/nn/model.hpp>
#include <ftmeta/optim/optimizer.hpp>

using namespace ftmeta::nn;
using namespace ftmeta::optim;
struct Net : Model<backbones::EfficientNetLite0, AvgPool, Head<Linear<Classes>>> {};
#ifdef FTMETA_CF_OK
struct Recipe : Sgd<Group<Stage<"stage7">, Lr<1e-2>>, Group<BackbonePart, Lr<1e-3>>, Group<HeadPart, Lr<1e-3>>> {};
#else
struct Recipe : Sgd<Group<Stage<"stage9">, Lr<1e-2>>, Group<BackbonePart, Lr<1e-3>>, Group<HeadPart, Lr<1e-3>>> {};
#endif
void build(Classifier<Net>& net) { auto optimizer = make_optimizer<Recipe>(*net); }

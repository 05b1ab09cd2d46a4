// expect: ftmeta: FineTune<...>: give exactly one recipe of the whole network
// A fine-tuning policy without the recipe of the whole network.
#include <ftmeta/train/default_policy.hpp>
using namespace ftmeta;
#ifdef FTMETA_CF_OK
struct Policy : train::FineTune<optim::AdamW<optim::Group<optim::BackbonePart, optim::Lr<1e-4>>, optim::Group<optim::HeadPart, optim::Lr<1e-3>>>,
                                train::LabelSmoothing<0.1>, train::Augment<train::FineTuneAugment>, train::Evaluate<train::FineTuneEvaluate>> {};
#else
struct Policy : train::FineTune<train::LabelSmoothing<0.1>, train::Augment<train::FineTuneAugment>, train::Evaluate<train::FineTuneEvaluate>> {};
#endif
static_assert(Policy::label_smoothing == 0.1);

// expect: ftmeta: HeadFirst<...>: items are Steps<N>, Views<N>, Lr<V> and WeightDecay<V>
// The head phase given an item it does not take (a schedule).
#include <ftmeta/train/policy.hpp>
using namespace ftmeta;
#ifdef FTMETA_CF_OK
using H = train::HeadFirst<train::Steps<500>, train::Views<2>>;
#else
using H = train::HeadFirst<train::Steps<500>, optim::CosineAnnealing<>>;
#endif
static_assert(H::steps == 500);

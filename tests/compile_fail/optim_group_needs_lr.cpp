// expect: every group needs its learning rate
// A parameter group declared without a learning rate.
#include <ftmeta/optim/groups.hpp>
using namespace ftmeta::optim;
#ifdef FTMETA_CF_OK
using G = Group<HeadPart, Lr<1e-3>, WeightDecay<1e-4>>;
#else
using G = Group<HeadPart, WeightDecay<1e-4>>;
#endif
static_assert(G::weight_decay == 1e-4);

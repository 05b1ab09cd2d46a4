// expect: Linear<Classes> must be the last layer
// A head that uses the class count before its last layer.
#include <ftmeta/nn/head_spec.hpp>
using namespace ftmeta::nn;
#ifdef FTMETA_CF_OK
struct H : Head<Linear<64>, ReLU, Linear<Classes>> {};
#else
struct H : Head<Linear<Classes>, ReLU, Linear<10>> {};
#endif
static_assert(H::widths(1280).size() == 3);

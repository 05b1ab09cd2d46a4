// expect: GaussianBlur<Kernel, SigmaLo, SigmaHi>: Kernel must be odd and positive
// torchvision's kernel_size must be odd (the kernel has a centre).
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<GaussianBlur<4>, ToTensor> {};
#else
struct Aug : Compose<GaussianBlur<5>, ToTensor> {};
#endif
static_assert(sizeof(Aug) > 0);

// expect: Compose<\.\.\.>: too many GaussianBlur ops in one pipeline .at most 4.
// Each GaussianBlur is a pass of its own inside the fused pixel pass, which holds at most four.
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct Aug : Compose<CenterCrop<64>, GaussianBlur<3>, GaussianBlur<3>, GaussianBlur<3>, GaussianBlur<3>, GaussianBlur<3>, ToTensor> {};
#else
struct Aug : Compose<CenterCrop<64>, GaussianBlur<3>, GaussianBlur<3>, GaussianBlur<3>, GaussianBlur<3>, ToTensor> {};
#endif

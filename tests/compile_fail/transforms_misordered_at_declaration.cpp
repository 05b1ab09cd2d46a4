// expect: Compose<\.\.\.>: photometric ops .ColorJitter. must come before or after all the geometric ops
// A misordered Compose fails where it is declared: nothing here runs it, and neither torch nor OpenCV is
// on the include path (compose.hpp is pure). A blur between two geometric ops would split the one resample.
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct EvalAug : Compose<Resize<256>, GaussianBlur<3>, CenterCrop<224>, ToTensor> {};
#else
struct EvalAug : Compose<Resize<256>, CenterCrop<224>, GaussianBlur<3>, ToTensor> {};
#endif

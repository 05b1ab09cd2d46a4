// expect: Normalize<Stats>: Stats needs `static constexpr double mean\[3\], std\[3\];`
#include <ftmeta/transforms/compose.hpp>

using namespace ftmeta::transforms;
#ifndef FTMETA_CF_OK
struct MyStats {
  static constexpr double mean[3] = {0.5, 0.5, 0.5};
  static constexpr double stdev[3] = {0.5, 0.5, 0.5};  // must be named std
};
#else
struct MyStats {
  static constexpr double mean[3] = {0.5, 0.5, 0.5};
  static constexpr double std[3] = {0.5, 0.5, 0.5};
};
#endif
struct Aug : Compose<CenterCrop<32>, ToTensor, Normalize<MyStats>> {};
static_assert(Aug::out_height == 32);

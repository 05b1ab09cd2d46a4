// ftmeta/transforms/kernels/cpu_features.hpp: which vector instructions this CPU has, for the kernels' run-time dispatch.
// The kernels are compiled for plain x86-64 with copies for AVX2 and AVX-512 (GCC's target attribute);
// these checks choose among them, once per process. Standard library only.
#pragma once

namespace ftmeta::transforms::detail {

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
/// AVX2.
inline bool cpu_has_avx2() {
  static const bool yes = [] {
    __builtin_cpu_init();  // needed where this runs before libgcc's constructors (a static initializer)
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return yes;
}
/// AVX2 with fused multiply-add (the resample's and the warp's AVX2 copies).
inline bool cpu_has_avx2_fma() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("fma") != 0;
  }();
  return yes;
}
/// AVX-512 F, BW, DQ and VL (the AVX-512 copies), with AVX2 and FMA (which every such CPU has).
inline bool cpu_has_avx512() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0 && __builtin_cpu_supports("avx512bw") != 0 &&
           __builtin_cpu_supports("avx512dq") != 0 && __builtin_cpu_supports("avx512vl") != 0 && cpu_has_avx2_fma();
  }();
  return yes;
}
#endif

}  // namespace ftmeta::transforms::detail

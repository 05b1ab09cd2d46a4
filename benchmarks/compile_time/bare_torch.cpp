// benchmarks/compile_time/bare_torch.cpp: the reference of the compile-time figures: a TU that
// includes LibTorch and does one thing with it (benchmarks/run_compile_time.sh).
#include <torch/torch.h>

int main() { return torch::ones({2, 2}).sum().item<float>() == 4.0f ? 0 : 1; }

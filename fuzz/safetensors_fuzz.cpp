// fuzz/safetensors_fuzz.cpp: libFuzzer target for the safetensors layout checks behind
// load_safetensors (torch-free core: nn/detail/safetensors.hpp). When the input is accepted, every
// tensor's byte range is read end to end, so a range the checks let past the buffer is an ASan
// report. ftmeta::Error is the clean refusal; anything else is a finding.
#define FTMETA_NN_WEIGHTS_INTERNAL
#include <ftmeta/nn/detail/safetensors.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ftmeta::nn::detail;
  // An exact-size heap copy: ASan then sees any read past the end.
  std::vector<std::uint8_t> copy(data, data + size);
  try {
    const auto header = parse_safetensors(copy.data(), copy.size(), "fuzz");
    unsigned sum = 0;
    for (const auto& e : header.tensors) {
      if (e.end > copy.size() - header.data_start) __builtin_trap();
      std::uint64_t numel = 1;
      for (auto d : e.shape) numel *= static_cast<std::uint64_t>(d);
      if (e.end - e.begin != numel * safe_dtype_info(e.dtype).size) __builtin_trap();
      for (std::uint64_t i = e.begin; i < e.end; ++i) sum += copy[header.data_start + i];
    }
    if (sum == 0xdeadbeef) std::abort();  // keeps the reads
  } catch (const ftmeta::Error&) {
  }
  return 0;
}

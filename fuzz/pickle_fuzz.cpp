// fuzz/pickle_fuzz.cpp: libFuzzer target for the restricted unpickler behind load_state_dict_file
// (torch-free core: nn/detail/pickle.hpp). Reads up to five pickles from the input, as a legacy
// torch.save file holds, then walks every tensor it rebuilt and touches the ends of its view
// (the unpickler promises views inside their storage). ftmeta::Error is the clean refusal; any
// other exception, crash or sanitizer report is a finding.
#define FTMETA_NN_WEIGHTS_INTERNAL
#include <ftmeta/nn/detail/pickle.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {
void check_tensor(const ftmeta::nn::detail::TensorRef& t) {
  if (!t.storage) __builtin_trap();
  std::int64_t last = t.offset;  // the furthest element the view reaches
  bool empty = false;
  for (std::size_t d = 0; d < t.sizes.size(); ++d) {
    if (t.sizes[d] == 0) empty = true;
    else last += (t.sizes[d] - 1) * t.strides[d];
  }
  if (!empty && (t.offset < 0 || last >= t.storage->numel)) __builtin_trap();  // a view past its storage
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ftmeta::nn::detail;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Heap heap;
  Unpickler unpickler(bytes, "fuzz", heap);
  std::size_t pos = 0;
  try {
    for (int i = 0; i < 5 && pos < size; ++i) {
      const Object* root = unpickler.load(pos);
      if (root->kind == Kind::Tensor) check_tensor(root->tensor);
      if (root->kind == Kind::Dict)
        for (const auto& [k, v] : root->entries)
          if (v->kind == Kind::Tensor) check_tensor(v->tensor);
    }
  } catch (const ftmeta::Error&) {
  }
  return 0;
}

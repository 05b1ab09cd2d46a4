// ftmeta/nn/state_dict.hpp: StateDict, the (name, tensor) list the weights readers return.
#pragma once

#include <torch/torch.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ftmeta::nn {

/// A state dict as the file lists it: (name, tensor) pairs in file order. Tensors are CPU tensors;
/// tensors that shared a storage in the file share it here too (views, as torch.load gives them).
struct StateDict : std::vector<std::pair<std::string, torch::Tensor>> {
  using std::vector<std::pair<std::string, torch::Tensor>>::vector;
  /// The tensor named `key`, or an undefined tensor.
  torch::Tensor find(std::string_view key) const {
    for (const auto& [name, tensor] : *this)
      if (name == key) return tensor;
    return {};
  }
};

/// The parameters and buffers of `module` (BatchNorm statistics included) under their keys, as
/// Python's `module.state_dict()` lists them for the same module tree.
inline StateDict state_dict_of(const torch::nn::Module& module) {
  StateDict out;
  for (const auto& p : module.named_parameters(true)) out.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers(true)) out.emplace_back(b.key(), b.value());
  return out;
}

}  // namespace ftmeta::nn

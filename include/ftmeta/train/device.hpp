// ftmeta/train/device.hpp: choosing the device from a flag: auto, cpu, cuda, cuda:N.
#pragma once

#include <ftmeta/core/error.hpp>

#include <torch/torch.h>

#include <string>

namespace ftmeta::train {

/// "auto" is CUDA when present (CUDA_VISIBLE_DEVICES is respected by the driver), else CPU.
/// "cuda" or "cuda:N" without such a device is a UsageError naming the flag's value.
inline torch::Device resolve_device(const std::string& spec) {
  if (spec.empty() || spec == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (spec == "cpu") return torch::Device(torch::kCPU);
  if (spec == "cuda" || spec.rfind("cuda:", 0) == 0) {
    int index = 0;
    if (spec.size() > 5) {
      const std::string digits = spec.substr(5);
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos)
        throw UsageError("device " + spec + ": expected cpu, cuda or cuda:N");
      index = std::stoi(digits);
    }
    if (!torch::cuda::is_available()) throw UsageError("device " + spec + ": no CUDA device is available (use cpu)");
    if (index >= static_cast<int>(torch::cuda::device_count()))
      throw UsageError("device " + spec + ": only " + std::to_string(torch::cuda::device_count()) + " CUDA device(s) visible");
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw UsageError("device " + spec + ": expected cpu, cuda or cuda:N");
}

}  // namespace ftmeta::train

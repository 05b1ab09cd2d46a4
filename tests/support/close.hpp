// tests/support/close.hpp: check_close, the parity check of the model tests against PyTorch's
// outputs. Test support only (not part of the library).
#pragma once

#include <torch/torch.h>

#include <catch2/catch.hpp>

namespace ftmeta::test {

/// max |got - want| <= tol * max |want|: relative to the scale of the reference, which must not be 0.
inline void check_close(const torch::Tensor& got, const torch::Tensor& want, double tol) {
  REQUIRE(got.sizes() == want.sizes());
  const double err = (got - want).abs().max().item<double>();
  const double scale = want.abs().max().item<double>();
  INFO("max abs error " << err << " against max abs " << scale);
  CHECK(scale > 0);
  CHECK(err <= tol * scale);
}

}  // namespace ftmeta::test

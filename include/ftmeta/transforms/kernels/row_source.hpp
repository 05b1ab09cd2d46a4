// ftmeta/transforms/kernels/row_source.hpp: the interface of a geometric stage made row by row (the resample, the warp).
// The pixel pass asks a RowSource for the rows it writes, so no image of the output's size is made. Standard
// library only.
#pragma once

#include <cstdint>

namespace ftmeta::transforms::detail {

/// A geometric stage's output made one row at a time, as the pixel pass asks: planes R, G, B of whole
/// levels, uint8 or float. Not thread-safe (one per sample).
class RowSource {
 public:
  virtual ~RowSource() = default;
  virtual int width() const = 0;
  virtual int height() const = 0;
  virtual void row(int y, std::uint8_t* R, std::uint8_t* G, std::uint8_t* B) = 0;
  virtual void row(int y, float* R, float* G, float* B) = 0;
  /// Row y with the pixel pass's last step folded in (each value v of plane c, R G B, written as
  /// scale[c] * v + bias[c]: ToTensor and Normalize, the same two roundings), where this source can fold
  /// it into its own pass; false: nothing written, the caller makes row(y) and applies the step itself.
  virtual bool row_affine(int /*y*/, float* /*R*/, float* /*G*/, float* /*B*/, const float* /*scale*/, const float* /*bias*/) {
    return false;
  }
};

}  // namespace ftmeta::transforms::detail

// ftmeta/transforms/ops.hpp: the transform ops as empty tag types: the geometric ones and the pixel ones.
// ftmeta:pure
// Ops carry no work: each states its traits (see traits.hpp), how it samples its random parameters from
// an ftmeta::Rng, and (geometric ops) the size and 2x3 map of its output. The kernels live in kernels/.
#pragma once

#include <ftmeta/transforms/geometric_ops.hpp>
#include <ftmeta/transforms/pixel_ops.hpp>

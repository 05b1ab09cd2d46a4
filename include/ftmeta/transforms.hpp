// ftmeta/transforms.hpp: the transforms area: ops, Compose and its planner, and the OpenCV/torch kernels.
#pragma once

#include <ftmeta/transforms/autoaugment.hpp>
#include <ftmeta/transforms/autoaugment_kernels.hpp>
#include <ftmeta/transforms/compose.hpp>
#include <ftmeta/transforms/execute.hpp>
#include <ftmeta/transforms/geometry.hpp>
#include <ftmeta/transforms/ops.hpp>
#include <ftmeta/transforms/traits.hpp>

// ftmeta/transforms.hpp: the transforms area: ops, Compose and its planner, the kernels, apply, the functional ops.
#pragma once

#include <ftmeta/transforms/apply.hpp>
#include <ftmeta/transforms/autoaugment.hpp>
#include <ftmeta/transforms/compose.hpp>
#include <ftmeta/transforms/functional.hpp>
#include <ftmeta/transforms/geometry.hpp>
#include <ftmeta/transforms/ops.hpp>
#include <ftmeta/transforms/plan.hpp>
#include <ftmeta/transforms/reference.hpp>
#include <ftmeta/transforms/traits.hpp>

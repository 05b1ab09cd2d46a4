// ftmeta/optim.hpp: recipes as types (parameter groups, optimizers, schedules, phases) and the
// optimizers and training-time driver they build.
#pragma once

#include <ftmeta/optim/descriptor.hpp>
#include <ftmeta/optim/groups.hpp>
#include <ftmeta/optim/optimizer.hpp>
#include <ftmeta/optim/schedules.hpp>

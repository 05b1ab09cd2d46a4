// ftmeta/optim.hpp: parameter groups and optimizer recipes as types, and the optimizers they build.
#pragma once

#include <ftmeta/optim/groups.hpp>
#include <ftmeta/optim/optimizer.hpp>

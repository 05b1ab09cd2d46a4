// ftmeta/distributed.hpp: data-parallel training across processes: torchrun's environment, the c10d process group, bucketed gradient averaging.
#pragma once

#include <ftmeta/distributed/env.hpp>
#include <ftmeta/distributed/grad_sync.hpp>
#include <ftmeta/distributed/process_group.hpp>
// The sharding sampler lives with the other samplers: ftmeta::data::DistributedSampler.
#include <ftmeta/data/sampler.hpp>

// ftmeta/distributed.hpp: data-parallel training across processes: torchrun's environment, the c10d process group, bucketed gradient averaging, synchronized BatchNorm.
#pragma once

#include <ftmeta/distributed/env.hpp>
#include <ftmeta/distributed/grad_sync.hpp>
#include <ftmeta/distributed/process_group.hpp>
#include <ftmeta/distributed/sync_batchnorm.hpp>
// The sharding sampler lives with the other samplers: ftmeta::data::DistributedSampler.
#include <ftmeta/data/sampler.hpp>

// How a training loop adopts it (ftmeta::train::Trainer does all six when TrainOptions::group is set):
//  1. `auto group = ftmeta::distributed::ProcessGroup::from_env(device);` once; on CUDA use
//     `torch::Device(torch::kCUDA, group.local_rank())`.
//  2. Loaders: `.sampler = data::DistributedSampler{.rank = group.rank(), .world_size = group.world_size()}`,
//     per-rank batch = global batch / world_size.
//  3. After building or loading the model (also on resume): `group.broadcast_module(*model);` then
//     `GradientSync sync(group, model->parameters());`.
//  4. Each step: `sync.finish();` after backward() and before clipping and the optimizer step. With
//     accumulation, `sync.set_enabled((step + 1) % accumulate == 0)` before each backward.
//  5. Epoch end: `group.sum(std::vector<double>{loss_sum, correct, samples})` (and
//     ConfusionMatrix::add_counts of summed counts); optionally `group.broadcast_buffers(*model)`.
//  6. Write checkpoints, metrics and plots only when `group.is_main()`; the model is never wrapped,
//     so state dicts carry no `module.` prefix.
//  Optionally, before training: `sync_batch_norm(*model, group);` makes BatchNorm use the global
//  batch's statistics (every rank then must run the same training forwards and backwards).

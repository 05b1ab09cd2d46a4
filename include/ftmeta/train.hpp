// ftmeta/train.hpp: fine_tune and its policies, the trainer, its type-erased loop, checkpoints, device choice and prediction.
#pragma once

#include <ftmeta/train/checkpoint.hpp>
#include <ftmeta/train/default_policy.hpp>
#include <ftmeta/train/device.hpp>
#include <ftmeta/train/fine_tune.hpp>
#include <ftmeta/train/head_fit.hpp>
#include <ftmeta/train/loop.hpp>
#include <ftmeta/train/policy.hpp>
#include <ftmeta/train/predict.hpp>
#include <ftmeta/train/trainer.hpp>

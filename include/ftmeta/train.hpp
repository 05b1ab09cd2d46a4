// ftmeta/train.hpp: the trainer, its type-erased loop, checkpoints, device choice and prediction.
#pragma once

#include <ftmeta/train/checkpoint.hpp>
#include <ftmeta/train/device.hpp>
#include <ftmeta/train/interrupt.hpp>
#include <ftmeta/train/loop.hpp>
#include <ftmeta/train/predict.hpp>
#include <ftmeta/train/trainer.hpp>

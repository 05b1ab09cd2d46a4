// ftmeta.hpp: the whole library. Fine-tune image classifiers on LibTorch with recipes as types.
#pragma once

#include <ftmeta/data.hpp>
#include <ftmeta/distributed.hpp>
#include <ftmeta/nn.hpp>
#include <ftmeta/optim.hpp>
#include <ftmeta/train.hpp>
#include <ftmeta/transforms.hpp>
#include <ftmeta/util/atomic_file.hpp>
#include <ftmeta/util/run_lock.hpp>

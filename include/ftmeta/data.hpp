// ftmeta/data.hpp: the data area: IDX/Fashion-MNIST reading and export, ImageFolder, splits (persisted), samplers, sources, the batch loader.
#pragma once

#include <ftmeta/data/class_map.hpp>
#include <ftmeta/data/export.hpp>
#include <ftmeta/data/idx.hpp>
#include <ftmeta/data/image_folder.hpp>
#include <ftmeta/data/loader.hpp>
#include <ftmeta/data/pipeline_loader.hpp>
#include <ftmeta/data/sampler.hpp>
#include <ftmeta/data/sources.hpp>
#include <ftmeta/data/split.hpp>
#include <ftmeta/data/splits.hpp>

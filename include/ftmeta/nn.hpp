// ftmeta/nn.hpp: models: layer tags, heads as types, backbones, weights import and export, the classifier module.
#pragma once

#include <ftmeta/nn/backbone_spec.hpp>
#include <ftmeta/nn/batch_norm.hpp>
#include <ftmeta/nn/efficientnet_lite.hpp>
#include <ftmeta/nn/head.hpp>
#include <ftmeta/nn/head_spec.hpp>
#include <ftmeta/nn/model_spec.hpp>
#include <ftmeta/nn/layers.hpp>
#include <ftmeta/nn/mobilenet.hpp>
#include <ftmeta/nn/model.hpp>
#include <ftmeta/nn/resnet.hpp>
#include <ftmeta/nn/safetensors.hpp>
// issue 14: timm's backbones and the preprocessing of weights (nn/registry.hpp, which compiles
// every built-in model, is included on its own).
#include <ftmeta/nn/preprocess.hpp>
#include <ftmeta/nn/timm_models.hpp>
#include <ftmeta/nn/timm_spec.hpp>
#include <ftmeta/nn/state_dict.hpp>
#include <ftmeta/nn/weights.hpp>

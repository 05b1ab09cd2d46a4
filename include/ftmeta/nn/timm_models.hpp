// ftmeta/nn/timm_models.hpp: binds timm's backbones (MobileNetV3, EfficientNet-B0, ConvNeXt-Tiny, ViT-S/16) to Classifier via backbone_module.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/nn/convnext.hpp>
#include <ftmeta/nn/model.hpp>
#include <ftmeta/nn/timm_efficientnet.hpp>
#include <ftmeta/nn/timm_spec.hpp>
#include <ftmeta/nn/vit.hpp>

#include <torch/torch.h>

#include <filesystem>
#include <string>

namespace ftmeta::nn {

namespace detail {
// timm backbones: ftmeta ships no file of their weights (timm downloads them from the Hugging Face hub).
template <class Descriptor, class Module>
struct timm_binding {
  using type = Module;
  static type make(std::int64_t in_channels) { return type(Descriptor{}, in_channels); }
  static std::filesystem::path pretrained() {
    throw FileError("ftmeta: no bundled weights for " + std::string(Descriptor::name) +
                    "; pass timm's model.safetensors (or the folder holding it and config.json, e.g. from the "
                    "Hugging Face hub's timm/" + std::string(Descriptor::name) + ") to load_pretrained_backbone(path)");
  }
  /// Strict for the backbone (the file's classifier is left out); a grayscale stem sums the RGB kernels.
  static LoadReport load(type& module, const std::filesystem::path& file) {
    return load_backbone_weights<Descriptor>(*module, module->in_channels(), file);
  }
};
}  // namespace detail

template <>
struct backbone_module<backbones::MobileNetV3Large> : detail::timm_binding<backbones::MobileNetV3Large, TimmEfficientNet> {};
template <>
struct backbone_module<backbones::MobileNetV3Small> : detail::timm_binding<backbones::MobileNetV3Small, TimmEfficientNet> {};
template <>
struct backbone_module<backbones::EfficientNetB0> : detail::timm_binding<backbones::EfficientNetB0, TimmEfficientNet> {};
template <>
struct backbone_module<backbones::ConvNeXtTiny> : detail::timm_binding<backbones::ConvNeXtTiny, ConvNeXt> {};
template <>
struct backbone_module<backbones::ViTSmall16> : detail::timm_binding<backbones::ViTSmall16, ViT> {};

}  // namespace ftmeta::nn

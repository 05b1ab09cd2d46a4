// ftmeta/nn/model_spec.hpp: Model<Backbone, Pool, Head>, the model spec that checks a head fits its backbone.
// ftmeta:pure
// A model as a type: a backbone descriptor (nn/backbone_spec.hpp), a pooling tag and a head (nn/head_spec.hpp).
// The torch module built from it is nn/model.hpp's.
#pragma once

#include <ftmeta/core/type_list.hpp>
#include <ftmeta/nn/backbone_spec.hpp>
#include <ftmeta/nn/head_spec.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace ftmeta::nn {

/// A classifier: backbone (classifier removed) -> pooling -> flatten -> head.
/// Name your model with a struct: `struct Net : Model<backbones::EfficientNetLite0, AvgPool, MyHead> {};`
template <class Backbone, class Pool, class HeadT>
struct Model {
  static_assert(BackboneDescriptor<Backbone>,
                "ftmeta: Model<Backbone, Pool, Head>: Backbone must be a backbone descriptor (name, feature_width, stages, stage_of), e.g. backbones::ResNet50");
  static_assert(requires { Pool::width_factor; }, "ftmeta: Model<Backbone, Pool, Head>: Pool must be AvgPool, MaxPool or ConcatPool");
  static_assert(is_head<HeadT>::value, "ftmeta: Model<Backbone, Pool, Head>: Head must be a Head<...> of layers");

  using backbone = Backbone;
  using pool = Pool;
  using head = HeadT;
  /// The width the head receives.
  static constexpr std::int64_t feature_width = Backbone::feature_width * Pool::width_factor;
  static_assert(HeadT::first_misfit(feature_width) == meta::size_v<typename HeadT::layers>,
                "ftmeta: Model<Backbone, Pool, Head>: a head layer's stated input width (Linear<Out, In>) does not match the width it receives from the backbone and pooling");
  /// The parts that parameter groups and freezing can name.
  static constexpr std::array<std::string_view, 2> parts{"backbone", "head"};

  static std::string describe() {
    return std::string(Backbone::name) + " (" + std::to_string(Backbone::feature_width) + " features) -> " +
           std::string(Pool::name) + " -> " + HeadT::describe();
  }
};

template <class T>
concept ModelSpec = requires {
  typename T::backbone;
  typename T::pool;
  typename T::head;
  T::feature_width;
};

}  // namespace ftmeta::nn

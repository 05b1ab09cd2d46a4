// ftmeta/train/preprocessing.hpp: how the weights' preprocessing (nn::Preprocessing) reaches the loaders: the evaluation
// transform derived from it, the training pipeline's normalization swapped for the weights' own, a recipe's own Normalize
// kept (with a warning when it disagrees), and the preprocessing a compile-time evaluation pipeline amounts to.
#pragma once

#include <ftmeta/core/rng.hpp>
#include <ftmeta/core/type_list.hpp>
#include <ftmeta/nn/preprocess.hpp>
#include <ftmeta/transforms/apply.hpp>
#include <ftmeta/transforms/eval_transform.hpp>

#include <opencv2/core.hpp>
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>

namespace ftmeta::train {

/// The evaluation transform `p` describes: the shorter side resized to floor(input_size / crop_pct), a centred
/// input_size crop, its mean and std.
inline transforms::EvalTransform eval_transform_of(const nn::Preprocessing& p) {
  const auto e = p.eval_pipeline();
  transforms::EvalTransform t{.resize_shorter = e.resize_shorter, .crop = e.crop, .mean = e.mean, .std = e.std};
  t.check();
  return t;
}

/// The Normalize a pipeline type ends with: whether it has one, whether its statistics are the backbone
/// descriptor's (Normalize<Backbone>, the policies' own choice, which the weights' statistics replace), and its values.
struct PipelineNormalize {
  bool found = false, backbone_own = false;
  std::array<double, 3> mean{}, std{};
};
namespace detail {
template <class Op>
inline constexpr bool is_normalize_v = false;
template <class S>
inline constexpr bool is_normalize_v<transforms::Normalize<S>> = true;

template <class Backbone, class... Ops>
constexpr PipelineNormalize pipeline_normalize_of(meta::TypeList<Ops...>) {
  PipelineNormalize r;
  ([&] {
    if constexpr (is_normalize_v<Ops>) {
      r.found = true;
      r.backbone_own = std::is_same_v<typename Ops::stats, Backbone>;
      for (int c = 0; c < 3; ++c) r.mean[c] = Ops::stats::mean[c], r.std[c] = Ops::stats::std[c];
    }
  }(), ...);
  return r;
}

template <class P>
struct eval_shape : std::false_type {};
template <int S, int C, class Stats>
struct eval_shape<meta::TypeList<transforms::Resize<S>, transforms::CenterCrop<C, C>, transforms::ToTensor, transforms::Normalize<Stats>>>
    : std::true_type {
  static nn::Preprocessing get() {
    nn::Preprocessing p;
    for (int c = 0; c < 3; ++c) p.mean[c] = Stats::mean[c], p.std[c] = Stats::std[c];
    p.input_size = C;
    p.crop_pct = static_cast<double>(C) / S;
    p.interpolation = "bilinear";
    p.source = "the evaluation pipeline";
    return p;
  }
};

inline std::string triple_text(const std::array<double, 3>& v) {
  std::ostringstream out;
  out << v[0] << ", " << v[1] << ", " << v[2];
  return out.str();
}
}  // namespace detail

/// PipelineNormalize of pipeline P for a model whose backbone is Backbone.
template <class P, class Backbone>
constexpr PipelineNormalize pipeline_normalize() {
  return detail::pipeline_normalize_of<Backbone>(typename P::ops{});
}

/// The preprocessing a compile-time evaluation pipeline `Resize<S>, CenterCrop<C>, ToTensor, Normalize<Stats>` amounts
/// to (crop_pct C / S), recorded in checkpoints so that predict rebuilds it; nullopt for a pipeline of another shape.
template <class P>
std::optional<nn::Preprocessing> preprocessing_of_pipeline() {
  if constexpr (detail::eval_shape<typename P::ops>::value) return detail::eval_shape<typename P::ops>::get();
  else return std::nullopt;
}

/// The statistics the loaders normalize with when the weights expect `weights`: a recipe's own Normalize wins (and
/// `warning` says so when it disagrees with the weights'); the backbone descriptor's (Normalize<Backbone>) gives way.
inline nn::Preprocessing effective_preprocessing(nn::Preprocessing weights, const PipelineNormalize& recipe, std::string* warning) {
  if (recipe.found && !recipe.backbone_own && (recipe.mean != weights.mean || recipe.std != weights.std)) {
    if (warning)
      *warning = "warning: the recipe's Normalize (mean " + detail::triple_text(recipe.mean) + ", std " + detail::triple_text(recipe.std) +
                 ") differs from the weights' own (mean " + detail::triple_text(weights.mean) + ", std " +
                 detail::triple_text(weights.std) + ", from " + weights.source + "); the recipe's is used";
    weights.mean = recipe.mean, weights.std = recipe.std;
  }
  return weights;
}

/// Pipeline P's loader transform with its normalization moved onto `mean`/`std`: P's output is (x - m) / s for P's
/// Normalize statistics m, s; this gives (x - mean) / std with one multiply-add per channel (nothing changes when they
/// agree). P must end with a Normalize.
template <class P>
struct Renormalized {
  std::array<float, 3> scale{1, 1, 1}, bias{0, 0, 0};
  bool identity = true;

  Renormalized(const PipelineNormalize& from, const std::array<double, 3>& mean, const std::array<double, 3>& std) {
    for (int c = 0; c < 3; ++c) {
      scale[c] = static_cast<float>(from.std[c] / std[c]);
      bias[c] = static_cast<float>((from.mean[c] - mean[c]) / std[c]);
      identity = identity && from.std[c] == std[c] && from.mean[c] == mean[c];
    }
  }
  void operator()(const cv::Mat& image, Rng& rng, torch::Tensor out) const {
    transforms::apply_into<P>(image, rng, out);
    if (identity) return;
    float* x = out.data_ptr<float>();
    const std::int64_t plane = out.size(1) * out.size(2);
    for (int c = 0; c < 3; ++c)
      for (std::int64_t i = 0; i < plane; ++i) x[c * plane + i] = x[c * plane + i] * scale[c] + bias[c];
  }
};

}  // namespace ftmeta::train

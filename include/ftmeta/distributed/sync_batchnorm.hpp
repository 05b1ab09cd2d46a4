// ftmeta/distributed/sync_batchnorm.hpp: synchronized BatchNorm: in training, a model's BatchNorm layers normalize with the statistics of the whole batch across the ranks of a process group (torch.nn.SyncBatchNorm's semantics, without replacing the layers).
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/distributed/process_group.hpp>
#include <ftmeta/nn/batch_norm.hpp>

#include <torch/torch.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ftmeta::distributed {

namespace detail {

// The dimensions a BatchNorm reduces over (all but the channels, dim 1) and the shape that
// broadcasts a per-channel vector against the input.
inline std::vector<std::int64_t> reduced_dims(const torch::Tensor& x) {
  std::vector<std::int64_t> dims{0};
  for (std::int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  return dims;
}
inline std::vector<std::int64_t> channel_shape(const torch::Tensor& x) {
  std::vector<std::int64_t> shape(static_cast<std::size_t>(x.dim()), 1);
  shape[1] = x.size(1);
  return shape;
}
// BatchNorm computes half and bfloat16 inputs in float32.
inline torch::Tensor compute_type(const torch::Tensor& x) {
  return at::isReducedFloatingType(x.scalar_type()) ? x.to(torch::kFloat) : x;
}

// Carries the process group through the autograd context (saved_data holds IValues).
struct GroupCapsule : torch::CustomClassHolder {
  explicit GroupCapsule(ProcessGroup g) : group(std::move(g)) {}
  ProcessGroup group;
};

// y = (x - mean) * invstd * weight + bias, with mean and invstd over the whole batch of all ranks
// (given, no gradient of their own). Backward accounts for the statistics' dependence on every
// rank's input: it all-reduces the per-channel sums of dy and dy * (x - mean), as
// torch.nn.SyncBatchNorm does; the weight's and bias's gradients stay local (GradientSync
// averages them with the others).
struct SyncBatchNormFunction : torch::autograd::Function<SyncBatchNormFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input, const torch::Tensor& weight,
                               const torch::Tensor& bias, const torch::Tensor& mean, const torch::Tensor& invstd, double count,
                               const ProcessGroup& group) {
    const auto x = compute_type(input);
    const auto shape = channel_shape(x);
    auto y = (x - mean.view(shape)) * invstd.view(shape);
    if (weight.defined()) y = y * weight.to(y.scalar_type()).view(shape);
    if (bias.defined()) y = y + bias.to(y.scalar_type()).view(shape);
    ctx->save_for_backward({input, weight, mean, invstd});
    ctx->saved_data["count"] = count;
    ctx->saved_data["group"] = c10::IValue::make_capsule(c10::make_intrusive<GroupCapsule>(group));
    return y.to(input.scalar_type());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grad_out) {
    const auto saved = ctx->get_saved_variables();
    const auto x = compute_type(saved[0]);
    const auto& weight = saved[1];
    const auto& mean = saved[2];
    const auto& invstd = saved[3];
    const auto shape = channel_shape(x);
    const auto dims = reduced_dims(x);
    const auto dy = grad_out[0].to(x.scalar_type());
    const auto xmu = x - mean.view(shape);
    const auto sum_dy = dy.sum(dims);
    const auto sum_dy_xmu = (dy * xmu).sum(dims);
    torch::Tensor grad_input, grad_weight, grad_bias;
    if (weight.defined() && ctx->needs_input_grad(1)) grad_weight = (sum_dy_xmu * invstd).to(weight.scalar_type());
    if (weight.defined() && ctx->needs_input_grad(2)) grad_bias = sum_dy.to(weight.scalar_type());
    if (ctx->needs_input_grad(0)) {
      // the same on every rank: whether the input needs a gradient depends on the model alone
      auto sums = torch::cat({sum_dy, sum_dy_xmu});
      const auto& group = static_cast<GroupCapsule*>(ctx->saved_data["group"].toCapsule().get())->group;
      group.wait(group.all_reduce_sum_async(sums), "synchronized BatchNorm backward");
      const double count = ctx->saved_data["count"].toDouble();
      const auto c = x.size(1);
      const auto mean_dy = sums.narrow(0, 0, c) / count;
      const auto mean_dy_xmu = sums.narrow(0, c, c) / count;
      auto scale = weight.defined() ? invstd * weight.to(x.scalar_type()) : invstd;
      grad_input = ((dy - mean_dy.view(shape) - xmu * (invstd * invstd * mean_dy_xmu).view(shape)) * scale.view(shape))
                       .to(saved[0].scalar_type());
    }
    return {grad_input, grad_weight, grad_bias, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace detail

/// The training-mode forward of one BatchNorm layer over all ranks of a group: the per-channel
/// sum, sum of squares and count of every rank's batch are all-reduced (in float64, from each
/// rank's own mean and variance, so no precision is lost to cancellation); the layer normalizes
/// with the global mean and biased variance and updates its running statistics with the unbiased
/// one, so every rank ends with the running statistics one process would have on the whole batch.
/// Ranks may hold different batch sizes. Attached by sync_batch_norm.
class SyncBatchNormStatistics final : public nn::BatchNormStatistics {
 public:
  explicit SyncBatchNormStatistics(ProcessGroup group) : group_(std::move(group)) {}

  torch::Tensor forward(const nn::BatchNormInputs& in) override {
    const auto& x = in.input;
    const auto c = x.size(1);
    torch::Tensor mean, var;
    double count = 0;
    {
      torch::NoGradGuard no_grad;
      const auto xc = detail::compute_type(x);
      const double n = static_cast<double>(c > 0 ? x.numel() / c : 0);
      auto stats = torch::zeros({2 * c + 1}, xc.options().dtype(torch::kFloat64));
      if (n > 0) {
        auto [v, m] = torch::var_mean(xc, detail::reduced_dims(xc), /*correction=*/0, /*keepdim=*/false);
        const auto md = m.to(torch::kFloat64), vd = v.to(torch::kFloat64);
        stats.narrow(0, 0, c).copy_(md * n);                  // sum
        stats.narrow(0, c, c).copy_((vd + md * md) * n);      // sum of squares
        stats.narrow(0, 2 * c, 1).fill_(n);                   // count
      }
      group_.wait(group_.all_reduce_sum_async(stats), "synchronized BatchNorm statistics");
      count = stats[2 * c].item<double>();
      if (count <= 1)
        throw UsageError("synchronized BatchNorm: expected more than 1 value per channel over all ranks when training, got " +
                         std::to_string(static_cast<std::int64_t>(count)) + " (input " + shape_text(x) + " on rank " +
                         std::to_string(group_.rank()) + ")");
      const auto mean_d = stats.narrow(0, 0, c) / count;
      const auto var_d = (stats.narrow(0, c, c) / count - mean_d * mean_d).clamp_min(0);
      if (in.running_mean.defined()) {
        const auto& rm = in.running_mean;
        rm.mul_(1 - in.momentum).add_(mean_d.to(rm.scalar_type()), in.momentum);
      }
      if (in.running_var.defined()) {
        const auto& rv = in.running_var;
        rv.mul_(1 - in.momentum).add_((var_d * (count / (count - 1))).to(rv.scalar_type()), in.momentum);
      }
      mean = mean_d.to(xc.scalar_type());
      var = (var_d + in.eps).rsqrt().to(xc.scalar_type());  // invstd
    }
    return detail::SyncBatchNormFunction::apply(x, in.weight, in.bias, mean, var, count, group_);
  }

  const ProcessGroup& group() const { return group_; }

 private:
  static std::string shape_text(const torch::Tensor& x) {
    std::string s = "[";
    for (std::int64_t d = 0; d < x.dim(); ++d) s += (d ? ", " : "") + std::to_string(x.size(d));
    return s + "]";
  }
  ProcessGroup group_;
};

/// Makes every BatchNorm layer of `module` normalize, in training, with the statistics of the
/// whole batch across the ranks of `group`, as torch.nn.SyncBatchNorm does; evaluation is
/// unchanged (running statistics, no communication). The layers stay where they are, so the state
/// dict keeps its keys and a checkpoint loads into a single process. A group of one detaches the
/// synchronization: the layers are then exactly plain BatchNorm. Returns how many layers it set.
///
/// The layers must be ftmeta's SyncableBatchNorm1d/2d, which ftmeta's backbones and heads are
/// built from; a plain torch::nn::BatchNorm1d/2d/3d is a UsageError naming it. Every rank must
/// call it, and run forward and backward in training mode in step (each layer's forward and
/// backward is a collective).
///
///   auto group = ftmeta::distributed::ProcessGroup::from_env();
///   ftmeta::distributed::sync_batch_norm(*model, group);
inline std::size_t sync_batch_norm(torch::nn::Module& module, const ProcessGroup& group) {
  std::shared_ptr<nn::BatchNormStatistics> stats;
  if (group.distributed()) stats = std::make_shared<SyncBatchNormStatistics>(group);
  // check first, so that a refused module is left as it was
  // (the module itself too: named_modules cannot include a module that no shared_ptr owns)
  std::vector<std::pair<std::string, torch::nn::Module*>> all{{"(the module itself)", &module}}, layers;
  for (const auto& m : module.named_modules("", /*include_self=*/false)) all.emplace_back(m.key(), m.value().get());
  for (const auto& [name, p] : all) {
    if (dynamic_cast<nn::SyncableBatchNorm1dImpl*>(p) || dynamic_cast<nn::SyncableBatchNorm2dImpl*>(p))
      layers.emplace_back(name, p);
    else if (dynamic_cast<torch::nn::BatchNorm1dImpl*>(p) || dynamic_cast<torch::nn::BatchNorm2dImpl*>(p) ||
             dynamic_cast<torch::nn::BatchNorm3dImpl*>(p))
      throw UsageError("sync_batch_norm: layer '" + name +
                       "' is a plain torch::nn::BatchNorm, which cannot be synchronized; build it as "
                       "ftmeta::nn::SyncableBatchNorm1d or SyncableBatchNorm2d (same options and keys)");
  }
  for (auto& [name, p] : layers) {
    if (auto* b1 = dynamic_cast<nn::SyncableBatchNorm1dImpl*>(p))
      b1->set_batch_statistics(stats);
    else
      static_cast<nn::SyncableBatchNorm2dImpl*>(p)->set_batch_statistics(stats);
  }
  return layers.size();
}

}  // namespace ftmeta::distributed

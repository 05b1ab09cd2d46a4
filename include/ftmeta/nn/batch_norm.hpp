// ftmeta/nn/batch_norm.hpp: the BatchNorm layers ftmeta's backbones and heads are built from: LibTorch's BatchNorm1d/2d, whose training-mode forward can be handed to another computation (synchronized BatchNorm: distributed/sync_batchnorm.hpp).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <utility>

namespace ftmeta::nn {

/// What a BatchNorm layer hands over when another computation takes its training-mode forward:
/// the input and the layer's own tensors (weight and bias undefined without the affine part,
/// the running statistics undefined when they are not tracked).
struct BatchNormInputs {
  torch::Tensor input, weight, bias, running_mean, running_var;
  /// This step's update factor of the running statistics: the layer's momentum, or 1/steps when
  /// its momentum is unset (the cumulative average), as torch::nn::BatchNorm computes it.
  double momentum = 0.1;
  double eps = 1e-5;
};

/// Computes a BatchNorm layer's training-mode output in its place, e.g. from statistics over the
/// batches of all ranks (distributed::SyncBatchNormStatistics). It updates the running statistics
/// itself and returns the output with its autograd history.
class BatchNormStatistics {
 public:
  virtual ~BatchNormStatistics() = default;
  virtual torch::Tensor forward(const BatchNormInputs& in) = 0;
};

namespace detail {
/// LibTorch's BatchNorm layer `Base` whose training-mode forward goes to a BatchNormStatistics
/// when one is attached. It registers nothing of its own, so its state dict is Base's.
template <class Base>
class SyncableBatchNorm : public Base {
 public:
  using Base::Base;

  /// Exactly Base::forward unless the layer is training and has statistics attached.
  torch::Tensor forward(const torch::Tensor& input) {
    if (!statistics_ || !this->is_training()) return Base::forward(input);
    this->_check_input_dim(input);
    BatchNormInputs in{input, this->weight, this->bias, this->running_mean, this->running_var,
                       this->options.momentum().value_or(0.0), this->options.eps()};
    if (this->options.track_running_stats() && this->num_batches_tracked.defined()) {
      torch::NoGradGuard no_grad;
      this->num_batches_tracked += 1;
      if (!this->options.momentum()) in.momentum = 1.0 / this->num_batches_tracked.template item<double>();
    }
    return statistics_->forward(in);
  }

  /// Attaches (or, with nullptr, detaches) the computation of the training-mode forward.
  void set_batch_statistics(std::shared_ptr<BatchNormStatistics> s) { statistics_ = std::move(s); }
  const std::shared_ptr<BatchNormStatistics>& batch_statistics() const { return statistics_; }

 private:
  std::shared_ptr<BatchNormStatistics> statistics_;
};
}  // namespace detail

/// torch::nn::BatchNorm1d (same options, keys and results) that can be synchronized across ranks.
/// `dynamic_cast<torch::nn::BatchNorm1dImpl*>` finds it; clone() returns a plain BatchNorm1d.
///   SyncableBatchNorm1d bn(512);
class SyncableBatchNorm1dImpl : public detail::SyncableBatchNorm<torch::nn::BatchNorm1dImpl> {
 public:
  using detail::SyncableBatchNorm<torch::nn::BatchNorm1dImpl>::SyncableBatchNorm;
};
TORCH_MODULE(SyncableBatchNorm1d);

/// torch::nn::BatchNorm2d (same options, keys and results) that can be synchronized across ranks.
///   SyncableBatchNorm2d bn(torch::nn::BatchNorm2dOptions(32).eps(1e-3).momentum(0.01));
class SyncableBatchNorm2dImpl : public detail::SyncableBatchNorm<torch::nn::BatchNorm2dImpl> {
 public:
  using detail::SyncableBatchNorm<torch::nn::BatchNorm2dImpl>::SyncableBatchNorm;
};
TORCH_MODULE(SyncableBatchNorm2d);

}  // namespace ftmeta::nn

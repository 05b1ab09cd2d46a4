// ftmeta/distributed/grad_sync.hpp: gradient averaging across a process group in buckets, started from autograd hooks while the backward pass is still running (DistributedDataParallel's scheme, without wrapping the model).
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/distributed/process_group.hpp>

#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace ftmeta::distributed {

struct GradientSyncOptions {
  /// Bytes of gradient per bucket (DistributedDataParallel's default: 25 MiB). Smaller buckets
  /// start reducing earlier in the backward pass; larger ones mean fewer collectives.
  std::int64_t bucket_bytes = std::int64_t{25} << 20;
  /// The first bucket (the last layers, whose gradients come first) is smaller, so that the
  /// first reduction starts early (DistributedDataParallel: 1 MiB).
  std::int64_t first_bucket_bytes = std::int64_t{1} << 20;
};

/// Averages the gradients of `params` over the ranks of `group` after every backward pass. The
/// parameters are cut into buckets (GradientSyncOptions) in reverse order (the order backward produces gradients); a
/// hook on each parameter's gradient accumulator copies its gradient into its bucket, and a full
/// bucket starts an asynchronous all-reduce while backward goes on. finish() waits for them and
/// writes grad = (sum over ranks) / world_size into every parameter that requires grad. Buckets
/// start in the same order on every rank, which is what keeps the collectives matched.
///
/// Build it once the model is on its device and its parameters exist (after broadcast_module);
/// call finish() after every backward while enabled. A parameter used twice in one forward is
/// fine (its accumulator reports once); shared across two backward calls before one finish() is not.
/// The model is never wrapped, so state dicts and checkpoints keep their plain names. Parameters
/// frozen (requires_grad false) at backward time are left out of that step; a parameter that got
/// no gradient on a rank takes part with zeros. A group of one installs no hooks and finish() does
/// nothing.
///
///   ftmeta::distributed::GradientSync sync(group, model->parameters());
///   loss.backward();
///   sync.finish();       // now every rank holds the same averaged gradients
///   optimizer.step();
class GradientSync {
 public:
  GradientSync(ProcessGroup group, std::vector<torch::Tensor> params, GradientSyncOptions options = {})
      : s_(std::make_unique<State>()) {
    s_->group = std::move(group);
    s_->params = std::move(params);
    if (options.bucket_bytes <= 0 || options.first_bucket_bytes <= 0)
      throw UsageError("GradientSync: bucket_bytes and first_bucket_bytes must be positive");
    const auto n = s_->params.size();
    s_->where.resize(n);
    s_->ready.assign(n, 0);
    // buckets, last parameter first; a new bucket when full or when dtype or device changes
    for (std::size_t k = n; k-- > 0;) {
      const auto& p = s_->params[k];
      if (!p.defined()) throw UsageError("GradientSync: parameter " + std::to_string(k) + " is undefined");
      if (!p.is_leaf()) throw UsageError("GradientSync: parameter " + std::to_string(k) + " is not a leaf tensor");
      const std::int64_t bytes = p.numel() * static_cast<std::int64_t>(p.element_size());
      auto* last = s_->buckets.empty() ? nullptr : &s_->buckets.back();
      const auto cap = s_->buckets.size() <= 1 ? std::min(options.first_bucket_bytes, options.bucket_bytes) : options.bucket_bytes;
      if (!last || (!last->members.empty() && last->numel * static_cast<std::int64_t>(p.element_size()) + bytes > cap) ||
          last->dtype != p.scalar_type() || last->device != p.device()) {
        s_->buckets.emplace_back(p.scalar_type(), p.device());
        last = &s_->buckets.back();
      }
      s_->where[k] = {s_->buckets.size() - 1, last->members.size()};
      last->members.push_back(k);
      last->offsets.push_back(last->numel);
      last->numel += p.numel();
    }
    for (auto& b : s_->buckets) b.flat = torch::zeros({b.numel}, torch::TensorOptions().dtype(b.dtype).device(b.device));
    if (!s_->group.distributed()) return;
    for (std::size_t k = 0; k < n; ++k) {
      auto acc = torch::autograd::impl::grad_accumulator(s_->params[k]);
      if (!acc) continue;  // does not require grad now and has no accumulator: finish() fills it in
      State* s = s_.get();
      const auto key = acc->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
          [s, k](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
            s->on_grad_ready(k);
            return outputs;
          }));
      s_->hooks.emplace_back(std::move(acc), key);
    }
  }
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;
  GradientSync(GradientSync&&) = default;
  ~GradientSync() {
    if (s_)
      for (auto& [acc, key] : s_->hooks) acc->del_post_hook(key);
  }

  /// With false, the following backward passes only accumulate locally (for gradient
  /// accumulation: disable for all but the last micro-batch of a window); finish() is then a no-op.
  void set_enabled(bool on) {
    std::lock_guard lock(s_->mutex);
    s_->enabled = on;
  }
  bool enabled() const { return s_->enabled; }

  /// After backward: starts the buckets the hooks did not (unused or frozen parameters), waits for
  /// every reduction, and writes the averaged gradients. Throws ftmeta::Error when a peer failed.
  void finish() {
    auto& s = *s_;
    std::lock_guard lock(s.mutex);
    if (!s.group.distributed() || !s.enabled) return;
    s.arm();
    try {
      for (std::size_t b = s.next_launch; b < s.buckets.size(); ++b) {
        for (std::size_t j = 0; j < s.buckets[b].members.size(); ++j)
          if (!s.ready[s.buckets[b].members[j]]) s.pack(s.buckets[b], j);
        s.launch(b);
      }
      const double inv = 1.0 / s.group.world_size();
      for (auto& bucket : s.buckets) {
        if (!bucket.launched) continue;
        s.group.wait(bucket.work, "gradient all-reduce");
        torch::NoGradGuard no_grad;
        bucket.flat.mul_(inv);
        for (std::size_t j = 0; j < bucket.members.size(); ++j) {
          auto& p = s.params[bucket.members[j]];
          if (!p.requires_grad()) continue;
          auto slice = bucket.flat.narrow(0, bucket.offsets[j], p.numel()).view(p.sizes());
          if (p.grad().defined())
            p.mutable_grad().copy_(slice);
          else
            p.mutable_grad() = slice.clone();
        }
      }
    } catch (...) {
      s.reset();
      throw;
    }
    s.reset();
  }

  /// The parameters' indices in each bucket, in the order the buckets are reduced.
  std::vector<std::vector<std::size_t>> bucket_members() const {
    std::vector<std::vector<std::size_t>> out;
    for (const auto& b : s_->buckets) out.push_back(b.members);
    return out;
  }

 private:
  struct Bucket {
    Bucket(torch::ScalarType t, torch::Device d) : dtype(t), device(d) {}
    torch::ScalarType dtype;
    torch::Device device;
    std::vector<std::size_t> members;    // parameter indices
    std::vector<std::int64_t> offsets;  // into flat
    std::int64_t numel = 0;
    torch::Tensor flat;
    std::size_t pending = 0;  // members that require grad and have not reported this step
    bool launched = false;
    c10::intrusive_ptr<c10d::Work> work;
  };
  struct State {
    ProcessGroup group;
    std::vector<torch::Tensor> params;
    std::vector<std::pair<std::size_t, std::size_t>> where;  // (bucket, slot) of each parameter
    std::vector<Bucket> buckets;
    std::vector<char> ready;
    std::size_t next_launch = 0;
    bool armed = false;
    bool enabled = true;
    std::mutex mutex;
    std::vector<std::pair<std::shared_ptr<torch::autograd::Node>, std::uintptr_t>> hooks;

    // The first event of a step counts, per bucket, the members that require grad now.
    void arm() {
      if (armed) return;
      for (auto& b : buckets) {
        b.pending = 0;
        for (auto k : b.members) b.pending += params[k].requires_grad() ? 1 : 0;
      }
      armed = true;
    }
    void reset() {
      std::fill(ready.begin(), ready.end(), 0);
      for (auto& b : buckets) {
        b.launched = false;
        b.work.reset();
      }
      next_launch = 0;
      armed = false;
    }
    void pack(Bucket& b, std::size_t j) {
      torch::NoGradGuard no_grad;
      const auto& p = params[b.members[j]];
      auto slice = b.flat.narrow(0, b.offsets[j], p.numel());
      if (p.requires_grad() && p.grad().defined())
        slice.copy_(p.grad().reshape({-1}));
      else
        slice.zero_();
    }
    void launch(std::size_t b) {
      auto& bucket = buckets[b];
      // a bucket with nothing to train is frozen on every rank alike: skip it everywhere
      if (bucket.pending > 0 || std::any_of(bucket.members.begin(), bucket.members.end(), [&](auto k) { return params[k].requires_grad(); }))
        bucket.work = group.all_reduce_sum_async(bucket.flat), bucket.launched = true;
      next_launch = b + 1;
    }
    void on_grad_ready(std::size_t k) {
      std::lock_guard lock(mutex);
      if (!enabled || ready[k]) return;
      arm();
      auto [b, j] = where[k];
      if (b < next_launch) return;  // already launched (cannot happen within one backward)
      pack(buckets[b], j);
      ready[k] = 1;
      if (buckets[b].pending > 0) --buckets[b].pending;
      while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
        // a bucket whose members all reported (or that has none to train) goes out, in order
        launch(next_launch);
      }
    }
  };

  std::unique_ptr<State> s_;
};

}  // namespace ftmeta::distributed

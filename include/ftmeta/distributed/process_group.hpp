// ftmeta/distributed/process_group.hpp: a data-parallel process group on PyTorch's c10d (TCP store rendezvous, Gloo on CPU, NCCL on CUDA), with a single-process fallback.
#pragma once

#include <ftmeta/core/error.hpp>
#include <ftmeta/distributed/env.hpp>

#include <torch/torch.h>

// c10d's Gloo backend is exported by libtorch_cpu, but the wheel ships no Gloo headers: they come
// from Debian's libgloo-dev (declarations only; nothing links libgloo). Without them a group of
// one process still works, and a larger one says what to install.
#if __has_include(<gloo/algorithm.h>)
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#define FTMETA_HAS_GLOO 1
#else
#define FTMETA_HAS_GLOO 0
#endif
// NCCL: only when the application opts in and builds with NCCL's headers (libtorch_cuda exports
// c10d::ProcessGroupNCCL). Define FTMETA_WITH_NCCL to enable this code path.
#if defined(FTMETA_WITH_NCCL)
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if FTMETA_HAS_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ftmeta::distributed {

/// This process's place in a data-parallel group and the collectives the trainer needs. A
/// copyable handle; the group lives while a copy does. A group of one process (WORLD_SIZE unset
/// or 1) makes every collective a no-op, so the same binary runs alone or under torchrun.
///
///   auto group = ftmeta::distributed::ProcessGroup::from_env(device);
///   group.broadcast_module(*model);            // rank 0's initial weights everywhere
///   if (group.is_main()) save_checkpoint(...);
///
/// Every failure of a peer (it died, or did not answer within the timeout) is an ftmeta::Error
/// naming this rank, the operation and the timeout, never a hang.
class ProcessGroup {
 public:
  /// A group of one: rank 0 of 1, no communication.
  ProcessGroup() : impl_(std::make_shared<Impl>()) {}

  /// The group torchrun's environment describes (see parse_launch_env); alone when WORLD_SIZE is
  /// unset or 1. `device` picks the backend: NCCL for CUDA (when built with FTMETA_WITH_NCCL),
  /// else Gloo (which also reduces CUDA tensors, through the host).
  static ProcessGroup from_env(torch::Device device = torch::kCPU) { return connect(launch_env(), device); }

  /// The group `env` describes: rank 0 serves a TCP store at MASTER_ADDR:MASTER_PORT (unless
  /// torchrun's agent serves it), every rank joins it, then the backend connects all ranks.
  static ProcessGroup connect(const LaunchEnv& env, torch::Device device = torch::kCPU) {
    if (!env.distributed()) {
      ProcessGroup g;
      g.impl_->env = env;
      return g;
    }
    c10::intrusive_ptr<c10d::Store> store;
    try {
      c10d::TCPStoreOptions o;
      o.port = static_cast<std::uint16_t>(env.master_port);
      o.isServer = env.rank == 0 && !env.agent_store;
      o.numWorkers = env.agent_store ? std::nullopt : std::optional<std::size_t>(env.world_size);
      o.waitWorkers = !env.agent_store;
      o.timeout = env.timeout;
      store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
    } catch (const std::exception& e) {
      throw Error("distributed: rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) +
                  ": rendezvous at " + env.master_addr + ":" + std::to_string(env.master_port) + " failed within " +
                  seconds(env.timeout) + " (" +
                  (env.rank == 0 ? "is the port free? did every rank start?" : "is rank 0 running? are MASTER_ADDR/MASTER_PORT right?") +
                  "): " + first_line(e.what()));
    }
    // torchrun restarts a failed group in place (--max-restarts): each attempt gets fresh keys
    std::string prefix = "ftmeta";
    if (const char* restart = std::getenv("TORCHELASTIC_RESTART_COUNT"); restart && *restart) prefix += std::string("/restart") + restart;
    return over_store(c10::make_intrusive<c10d::PrefixStore>(prefix, store), env, device);
  }

  /// A group over an existing c10d store (tests run several ranks as threads over a HashStore).
  static ProcessGroup over_store(c10::intrusive_ptr<c10d::Store> store, const LaunchEnv& env, torch::Device device = torch::kCPU) {
    ProcessGroup g;
    g.impl_->env = env;
    if (!env.distributed()) return g;
    g.impl_->guard("connecting the backend", [&] {
      if (device.is_cuda()) {
#if defined(FTMETA_WITH_NCCL)
        auto o = c10d::ProcessGroupNCCL::Options::create();
        o->timeout = env.timeout;
        g.impl_->backend = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, env.rank, env.world_size, o);
        return;
#endif
      }
#if FTMETA_HAS_GLOO
      auto o = c10d::ProcessGroupGloo::Options::create(env.timeout);
      if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
        o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      else if (is_loopback(env.master_addr))
        o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      else
        o->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      g.impl_->backend = c10::make_intrusive<c10d::ProcessGroupGloo>(store, env.rank, env.world_size, o);
#else
      throw UsageError("ftmeta was built without Gloo's headers (Debian: apt-get install libgloo-dev)");
#endif
    });
    g.impl_->store = std::move(store);
    return g;
  }

  int rank() const { return impl_->env.rank; }
  int world_size() const { return impl_->env.world_size; }
  int local_rank() const { return impl_->env.local_rank; }
  /// Rank 0: the one process that writes logs, plots and checkpoints.
  bool is_main() const { return rank() == 0; }
  bool distributed() const { return world_size() > 1; }
  const LaunchEnv& env() const { return impl_->env; }
  /// The c10d backend (null in a group of one), for collectives ftmeta does not wrap.
  const c10::intrusive_ptr<c10d::Backend>& backend() const { return impl_->backend; }

  /// Starts an in-place sum of `t` over all ranks and returns the work to wait on (null alone).
  /// Used by GradientSync to overlap the reduction with the backward pass.
  c10::intrusive_ptr<c10d::Work> all_reduce_sum_async(torch::Tensor& t) const {
    if (!distributed()) return {};
    c10::intrusive_ptr<c10d::Work> w;
    impl_->guard("all-reduce", [&] {
      std::vector<torch::Tensor> ts{t};
      w = impl_->backend->allreduce(ts, c10d::AllreduceOptions{});
    });
    return w;
  }
  /// Waits for work from all_reduce_sum_async; a dead or silent peer becomes an ftmeta::Error.
  void wait(const c10::intrusive_ptr<c10d::Work>& w, const char* what = "all-reduce") const {
    if (w) impl_->guard(what, [&] { w->wait(); });
  }

  /// Sums `t` in place over all ranks.
  void all_reduce_sum_(torch::Tensor& t) const {
    if (!distributed()) return;
    wait(all_reduce_sum_async(t));
  }
  /// Element-wise sums over all ranks of per-rank totals (loss sums, correct counts, samples).
  std::vector<double> sum(std::vector<double> v) const { return sum_as(std::move(v), torch::kFloat64); }
  /// Element-wise sums of counts (a confusion matrix's counts, sample counts), exact in int64.
  std::vector<std::int64_t> sum(std::vector<std::int64_t> v) const { return sum_as(std::move(v), torch::kInt64); }

  /// Overwrites `tensors` on every rank with rank `root`'s values.
  void broadcast_(std::vector<torch::Tensor> tensors, int root = 0) const {
    if (!distributed() || tensors.empty()) return;
    if (root < 0 || root >= world_size())
      throw UsageError("distributed: broadcast root " + std::to_string(root) + " is not a rank of " + std::to_string(world_size()));
    impl_->guard("broadcast", [&] {
      for (auto& t : tensors) {  // one tensor per call: Gloo's broadcast takes a one-tensor list
        std::vector<torch::Tensor> one{t};
        c10d::BroadcastOptions o;
        o.rootRank = root;
        impl_->backend->broadcast(one, o)->wait();
      }
    });
  }
  /// Copies rank 0's parameters and buffers (BatchNorm statistics included) to every rank, so all
  /// start from the same weights: call once after building or loading the model, before training.
  void broadcast_module(torch::nn::Module& module, int root = 0) const {
    std::vector<torch::Tensor> ts;
    for (auto& p : module.parameters()) ts.push_back(p.data());
    for (auto& b : module.buffers()) ts.push_back(b);
    broadcast_(std::move(ts), root);
  }
  /// Copies rank 0's buffers (BatchNorm running statistics, which each rank updates from its own
  /// samples) to every rank: DistributedDataParallel does this before every forward; once per
  /// epoch, before evaluating and saving, keeps the ranks' models identical at a fraction of it.
  void broadcast_buffers(torch::nn::Module& module, int root = 0) const {
    std::vector<torch::Tensor> ts;
    for (auto& b : module.buffers()) ts.push_back(b);
    broadcast_(std::move(ts), root);
  }
  /// Waits until every rank has called it.
  void barrier() const {
    if (!distributed()) return;
    impl_->guard("barrier", [&] { impl_->backend->barrier(c10d::BarrierOptions{})->wait(); });
  }

 private:
  struct Impl {
    LaunchEnv env;
    c10::intrusive_ptr<c10d::Store> store;
    c10::intrusive_ptr<c10d::Backend> backend;

    template <class F>
    void guard(const char* what, F&& f) const {
      try {
        f();
      } catch (const ftmeta::Error&) {
        throw;
      } catch (const std::exception& e) {
        throw Error("distributed: rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) + ": " + what +
                    " failed: a peer died or did not answer within " + seconds(env.timeout) + ": " + first_line(e.what()));
      }
    }
  };

  template <class T>
  std::vector<T> sum_as(std::vector<T> v, torch::ScalarType dtype) const {
    if (!distributed() || v.empty()) return v;
    torch::Tensor t = torch::from_blob(v.data(), {static_cast<std::int64_t>(v.size())}, dtype).clone();
    wait(all_reduce_sum_async(t), "metric reduction");
    std::copy_n(t.data_ptr<T>(), v.size(), v.begin());
    return v;
  }
  static std::string seconds(std::chrono::milliseconds t) { return std::to_string(t.count() / 1000) + " s"; }
  static std::string first_line(const std::string& s) {
    auto n = s.find('\n');
    return n == std::string::npos ? s : s.substr(0, n);
  }
  static bool is_loopback(const std::string& a) { return a == "localhost" || a.rfind("127.", 0) == 0 || a == "::1"; }

  std::shared_ptr<Impl> impl_;
};

}  // namespace ftmeta::distributed

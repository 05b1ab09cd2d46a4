// Tests of the c10d process group and the bucketed gradient averaging (distributed/*.hpp) with two
// Gloo ranks run as threads of this process over an in-memory store: collectives, the broadcast of
// initial weights, averaged gradients equal to one process's on the whole batch, frozen and
// unused parameters, and a missing peer ending in a message. Multi-process runs: tests/distributed/.
#include <ftmeta/distributed.hpp>

#include <catch2/catch.hpp>

#include <mutex>
#include <torch/csrc/distributed/c10d/HashStore.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "support/ranks.hpp"

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_distributed_group {

using namespace ftmeta::distributed;
using Catch::Matchers::Contains;

namespace {

using ftmeta::test::run_ranks;

struct Mlp : torch::nn::Module {
  torch::nn::Linear a{nullptr}, b{nullptr}, unused{nullptr};
  Mlp() {
    a = register_module("a", torch::nn::Linear(6, 16));
    b = register_module("b", torch::nn::Linear(16, 3));
    unused = register_module("unused", torch::nn::Linear(2, 2));  // never in forward
  }
  torch::Tensor forward(const torch::Tensor& x) { return b(torch::tanh(a(x))); }
};

void copy_weights(Mlp& to, Mlp& from) {
  torch::NoGradGuard g;
  auto src = from.parameters();
  auto dst = to.parameters();
  for (std::size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
}

double max_diff(const std::vector<torch::Tensor>& x, const std::vector<torch::Tensor>& y) {
  double m = 0;
  for (std::size_t i = 0; i < x.size(); ++i) m = std::max(m, (x[i] - y[i]).abs().max().item<double>());
  return m;
}

}  // namespace

TEST_CASE("distributed: a group of one needs no launcher and communicates nothing", "[distributed][group]") {
  ProcessGroup g;
  CHECK(g.rank() == 0);
  CHECK(g.world_size() == 1);
  CHECK(g.is_main());
  CHECK_FALSE(g.distributed());
  CHECK_FALSE(g.backend());
  CHECK(g.sum(std::vector<double>{1.5, 2}) == std::vector<double>{1.5, 2});
  auto t = torch::ones({3});
  g.all_reduce_sum_(t);
  CHECK(t.sum().item<float>() == 3.0f);
  Mlp m;
  auto w = m.a->weight.clone();
  g.broadcast_module(m);
  CHECK(torch::equal(w, m.a->weight));
  GradientSync sync(g, m.parameters());
  m.forward(torch::ones({2, 6})).sum().backward();
  auto grad = m.a->weight.grad().clone();
  sync.finish();
  CHECK(torch::equal(grad, m.a->weight.grad()));
  CHECK_FALSE(ProcessGroup::connect(LaunchEnv{}).distributed());
}

TEST_CASE("distributed: sums and broadcasts over two Gloo ranks", "[distributed][group]") {
  std::vector<std::vector<double>> sums(2);
  std::vector<std::vector<std::int64_t>> counts(2);
  std::vector<torch::Tensor> weights(2), buffers(2), drifted(2);
  run_ranks(2, [&](ProcessGroup& g) {
    const auto r = static_cast<std::size_t>(g.rank());
    sums[r] = g.sum(std::vector<double>{0.25 + g.rank(), 10.0 * g.rank()});
    // a confusion matrix's counts: exact int64 sums
    counts[r] = g.sum(std::vector<std::int64_t>{(std::int64_t{1} << 40) + g.rank(), 3, 0, g.rank()});
    // Different initial weights per rank. The ranks are threads sharing torch's global generator,
    // so seeding and drawing must not interleave between them.
    static std::mutex init;
    std::unique_lock seeded(init);
    torch::manual_seed(100 + g.rank());
    torch::nn::Sequential net(torch::nn::Linear(4, 5), torch::nn::BatchNorm1d(5));
    seeded.unlock();
    {
      torch::NoGradGuard ng;
      net->buffers()[0].fill_(static_cast<float>(g.rank() + 1));  // running_mean differs too
    }
    g.broadcast_module(*net);
    weights[r] = net->parameters()[0].detach().clone();
    buffers[r] = net->buffers()[0].clone();
    {
      torch::NoGradGuard ng;
      net->buffers()[0].fill_(static_cast<float>(10 + g.rank()));  // statistics drift apart in training
    }
    g.broadcast_buffers(*net);
    drifted[r] = net->buffers()[0].clone();
    g.barrier();
  });
  CHECK(sums[0] == std::vector<double>{1.5, 10.0});
  CHECK(sums[1] == sums[0]);
  CHECK(counts[0] == std::vector<std::int64_t>{(std::int64_t{1} << 41) + 1, 6, 0, 1});
  CHECK(counts[1] == counts[0]);
  torch::manual_seed(100);
  torch::nn::Sequential rank0(torch::nn::Linear(4, 5), torch::nn::BatchNorm1d(5));
  CHECK(torch::equal(weights[0], rank0->parameters()[0]));
  CHECK(torch::equal(weights[1], weights[0]));
  CHECK(torch::equal(buffers[1], torch::ones({5})));
  CHECK(torch::equal(drifted[1], torch::full({5}, 10.0f)));
  CHECK(torch::equal(drifted[0], drifted[1]));
}

TEST_CASE("distributed: averaged gradients over two ranks equal one process on the whole batch", "[distributed][grad]") {
  torch::manual_seed(7);
  Mlp reference;
  Mlp init;  // the weights both ranks start from: the reference's
  copy_weights(init, reference);
  torch::manual_seed(8);
  const auto x = torch::randn({8, 6});
  const auto y = torch::randint(0, 3, {8});
  torch::optim::SGD ref_opt(reference.parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  const int steps = 3;
  for (int s = 0; s < steps; ++s) {
    ref_opt.zero_grad();
    torch::nn::functional::cross_entropy(reference.forward(x), y).backward();
    ref_opt.step();
  }
  // one more backward, to compare the gradients themselves
  ref_opt.zero_grad();
  torch::nn::functional::cross_entropy(reference.forward(x), y).backward();


  std::vector<std::vector<torch::Tensor>> grads(2), params(2);
  std::vector<std::size_t> buckets(2);
  run_ranks(2, [&](ProcessGroup& g) {
    Mlp m;
    if (g.is_main()) copy_weights(m, init);  // the other rank starts elsewhere: broadcast fixes it
    g.broadcast_module(m);
    GradientSync sync(g, m.parameters(), {.bucket_bytes = 256});  // several buckets
    buckets[static_cast<std::size_t>(g.rank())] = sync.bucket_members().size();
    torch::optim::SGD opt(m.parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
    const auto xs = x.narrow(0, 4 * g.rank(), 4), ys = y.narrow(0, 4 * g.rank(), 4);
    for (int s = 0; s <= steps; ++s) {
      opt.zero_grad();
      torch::nn::functional::cross_entropy(m.forward(xs), ys).backward();
      sync.finish();
      if (s < steps) opt.step();
    }
    for (auto& p : m.parameters()) {
      params[static_cast<std::size_t>(g.rank())].push_back(p.detach().clone());
      grads[static_cast<std::size_t>(g.rank())].push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
    }
  });
  CHECK(buckets[0] > 2);
  std::vector<torch::Tensor> ref_params, ref_grads;
  for (auto& p : reference.parameters()) {
    ref_params.push_back(p.detach());
    ref_grads.push_back(p.grad().defined() ? p.grad() : torch::zeros_like(p));
  }
  CHECK(max_diff(params[0], params[1]) == 0.0);  // identical on both ranks
  CHECK(max_diff(grads[0], grads[1]) == 0.0);
  CHECK(max_diff(params[0], ref_params) < 1e-6);
  CHECK(max_diff(grads[0], ref_grads) < 1e-6);
  CHECK(max_diff(params[0], ref_params) + max_diff(grads[0], ref_grads) < 1e-5);
}

TEST_CASE("distributed: buckets cover every parameter once, last parameters first", "[distributed][grad]") {
  Mlp m;
  GradientSync sync(ProcessGroup{}, m.parameters(), {.bucket_bytes = 256});
  const auto b = sync.bucket_members();
  std::vector<std::size_t> flat;
  for (const auto& bucket : b) flat.insert(flat.end(), bucket.begin(), bucket.end());
  std::vector<std::size_t> expect(m.parameters().size());
  for (std::size_t i = 0; i < expect.size(); ++i) expect[i] = expect.size() - 1 - i;
  CHECK(flat == expect);
  CHECK_THROWS_WITH(GradientSync(ProcessGroup{}, m.parameters(), {.bucket_bytes = 0}), Contains("bucket_bytes and first_bucket_bytes must be positive"));
}

TEST_CASE("distributed: frozen parameters are skipped and disabled steps stay local", "[distributed][grad]") {
  std::vector<bool> frozen_grad_defined(2, true);
  std::vector<torch::Tensor> local(2), after(2), averaged(2);
  run_ranks(2, [&](ProcessGroup& g) {
    const auto r = static_cast<std::size_t>(g.rank());
    static std::mutex init;  // the ranks are threads sharing torch's global generator
    std::unique_lock seeded(init);
    torch::manual_seed(3);
    Mlp m;
    seeded.unlock();
    GradientSync sync(g, m.parameters(), {.bucket_bytes = 128});
    m.a->weight.requires_grad_(false);  // a phase froze it after the sync was built
    const auto x = torch::full({2, 6}, static_cast<float>(g.rank() + 1));
    m.forward(x).sum().backward();
    sync.finish();
    frozen_grad_defined[r] = m.a->weight.grad().defined();
    averaged[r] = m.b->weight.grad().clone();
    // gradient accumulation: a disabled sync leaves this backward's gradients local
    m.zero_grad();
    sync.set_enabled(false);
    m.forward(x).sum().backward();
    sync.finish();
    local[r] = m.b->weight.grad().clone();
    sync.set_enabled(true);
    m.forward(x).sum().backward();  // accumulates onto the local gradient, then averages the sum
    sync.finish();
    after[r] = m.b->weight.grad().clone();
  });
  CHECK_FALSE(frozen_grad_defined[0]);
  CHECK_FALSE(frozen_grad_defined[1]);
  CHECK(torch::allclose(averaged[0], averaged[1]));
  CHECK_FALSE(torch::allclose(local[0], local[1]));  // different inputs, not averaged
  CHECK(torch::allclose(averaged[0], (local[0] + local[1]) / 2, 1e-5, 1e-6));
  CHECK(torch::allclose(after[0], local[0] + local[1], 1e-5, 1e-6));  // mean of (2 local) per rank
  CHECK(torch::allclose(after[1], after[0]));
}

TEST_CASE("distributed: a peer that never joins ends in a message naming the rank, not a hang", "[distributed][failure]") {
  auto store = c10::make_intrusive<c10d::HashStore>();
  LaunchEnv env;
  env.rank = 0;
  env.world_size = 2;
  env.timeout = std::chrono::seconds(1);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(ProcessGroup::over_store(store, env), Contains("distributed: rank 0 of 2") && Contains("within 1 s"));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20));
}

TEST_CASE("distributed: rendezvous with nobody listening fails within the timeout", "[distributed][failure]") {
  LaunchEnv env;
  env.rank = 1;
  env.world_size = 2;
  env.master_port = 1;  // nothing listens on port 1 (privileged)
  env.timeout = std::chrono::seconds(2);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(ProcessGroup::connect(env), Contains("rendezvous at 127.0.0.1:1 failed") && Contains("is rank 0 running"));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(30));
}

}  // namespace unit_distributed_group

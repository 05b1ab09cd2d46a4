// Tests of synchronized BatchNorm (distributed/sync_batchnorm.hpp, nn/batch_norm.hpp) with two Gloo
// ranks run as threads of this process: two ranks of 8 samples give the outputs, gradients,
// running statistics and weights of one process on 16 with plain BatchNorm (also with uneven
// shards); a group of one and evaluation are plain BatchNorm without communication; every
// BatchNorm of ftmeta's models can be synchronized; a plain torch BatchNorm and a stopped peer are
// named.
#include <ftmeta/distributed.hpp>
#include <ftmeta/nn/model.hpp>

#include <catch2/catch.hpp>

#include <torch/csrc/distributed/c10d/HashStore.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/ranks.hpp"

// One namespace per test file: ftmeta_unit compiles the files in unity batches.
namespace unit_distributed_sync_batchnorm {

using namespace ftmeta::distributed;
using ftmeta::nn::SyncableBatchNorm1d;
using ftmeta::nn::SyncableBatchNorm1dImpl;
using ftmeta::nn::SyncableBatchNorm2d;
using Catch::Matchers::Contains;

namespace {

using ftmeta::test::run_ranks;

// conv -> BatchNorm2d -> pool -> linear -> BatchNorm1d (cumulative average: momentum unset) -> linear
struct Tiny : torch::nn::Module {
  torch::nn::Conv2d conv{nullptr};
  SyncableBatchNorm2d bn2{nullptr};
  torch::nn::Linear fc{nullptr}, out{nullptr};
  SyncableBatchNorm1d bn1{nullptr};
  Tiny() {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3).padding(1)));
    bn2 = register_module("bn2", SyncableBatchNorm2d(torch::nn::BatchNorm2dOptions(4).momentum(0.3)));
    fc = register_module("fc", torch::nn::Linear(16, 6));
    bn1 = register_module("bn1", SyncableBatchNorm1d(torch::nn::BatchNorm1dOptions(6).momentum(std::nullopt)));
    out = register_module("out", torch::nn::Linear(6, 3));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = torch::relu(bn2(conv(x)));
    y = torch::adaptive_avg_pool2d(y, {2, 2}).flatten(1);
    return out(torch::relu(bn1(fc(y))));
  }
};

// The initial weights every copy starts from: random, BatchNorm scales and shifts included.
void init_weights(Tiny& m) {
  torch::NoGradGuard g;
  for (auto& p : m.parameters()) p.uniform_(-0.8, 0.8);
  m.bn2->weight.uniform_(0.5, 1.5);
  m.bn1->weight.uniform_(0.5, 1.5);
}
void copy_state(Tiny& to, Tiny& from) {
  torch::NoGradGuard g;
  auto src = from.named_parameters(), dst = to.named_parameters();
  for (const auto& p : src) dst[p.key()].copy_(p.value());
  auto bsrc = from.named_buffers(), bdst = to.named_buffers();
  for (const auto& b : bsrc) bdst[b.key()].copy_(b.value());
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

// Named tensors of a module: parameters, their gradients, buffers.
struct Snapshot {
  std::vector<std::pair<std::string, torch::Tensor>> params, grads, buffers;
  explicit Snapshot(torch::nn::Module& m) {
    for (const auto& p : m.named_parameters()) {
      params.emplace_back(p.key(), p.value().detach().clone());
      grads.emplace_back(p.key(), p.value().grad().defined() ? p.value().grad().clone() : torch::Tensor());
    }
    for (const auto& b : m.named_buffers()) buffers.emplace_back(b.key(), b.value().clone());
  }
};
// The largest difference between two lists of named tensors (infinite when a name or a gradient
// is missing on one side).
double max_diff(const std::vector<std::pair<std::string, torch::Tensor>>& x, const std::vector<std::pair<std::string, torch::Tensor>>& y) {
  if (x.size() != y.size()) return 1e30;
  double m = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i].first != y[i].first || x[i].second.defined() != y[i].second.defined()) return 1e30;
    if (x[i].second.defined()) m = std::max(m, max_diff(x[i].second.to(torch::kDouble), y[i].second.to(torch::kDouble)));
  }
  return m;
}

}  // namespace

TEST_CASE("distributed: sync batchnorm: a syncable layer is torch's BatchNorm, and a group of one leaves it so", "[distributed][syncbn]") {
  torch::manual_seed(11);
  Tiny plain, synced;
  init_weights(plain);
  copy_state(synced, plain);
  // same keys as torch::nn::BatchNorm
  std::vector<std::string> torch_keys, ours;
  for (const auto& b : torch::nn::BatchNorm2d(4)->named_buffers()) torch_keys.push_back(b.key());
  for (const auto& b : synced.bn2->named_buffers()) ours.push_back(b.key());
  CHECK(ours == torch_keys);
  CHECK(synced.bn2->named_parameters().keys() == torch::nn::BatchNorm2d(4)->named_parameters().keys());

  CHECK(sync_batch_norm(synced, ProcessGroup{}) == 2);
  CHECK_FALSE(synced.bn2->batch_statistics());
  const auto x = torch::randn({6, 3, 5, 5});
  for (int step = 0; step < 2; ++step) {
    plain.zero_grad();
    synced.zero_grad();
    const auto a = plain.forward(x), b = synced.forward(x);
    CHECK(torch::equal(a, b));
    a.square().sum().backward();
    b.square().sum().backward();
  }
  CHECK(max_diff(Snapshot(plain).grads, Snapshot(synced).grads) == 0.0);
  CHECK(max_diff(Snapshot(plain).buffers, Snapshot(synced).buffers) == 0.0);

  // and a syncable BatchNorm2d computes what torch::nn::BatchNorm2d does, in training and evaluation
  torch::nn::BatchNorm2d bn(torch::nn::BatchNorm2dOptions(4).eps(1e-3).momentum(0.01));
  SyncableBatchNorm2d ours_bn(torch::nn::BatchNorm2dOptions(4).eps(1e-3).momentum(0.01));
  const auto z = torch::randn({3, 4, 2, 2});
  CHECK(torch::equal(bn(z), ours_bn(z)));
  CHECK(torch::equal(bn->running_var, ours_bn->running_var));
  bn->eval();
  ours_bn->eval();
  CHECK(torch::equal(bn(z), ours_bn(z)));
}

TEST_CASE("distributed: sync batchnorm: two ranks of 8 give one process's outputs, gradients and statistics on 16", "[distributed][syncbn]") {
  torch::manual_seed(21);
  Tiny reference, init;
  init_weights(init);
  copy_state(reference, init);
  const auto x = torch::randn({16, 3, 4, 4}) * 2 + 0.5;
  const auto y = torch::randint(0, 3, {16});
  const int steps = 3;  // SGD steps, then one more forward and backward to compare
  auto run = [&](Tiny& m, torch::optim::SGD& opt, const torch::Tensor& xs, const torch::Tensor& ys, GradientSync* sync,
                 torch::Tensor& logits, torch::Tensor& input_grad) {
    m.train();
    for (int s = 0; s <= steps; ++s) {
      opt.zero_grad();
      auto xin = xs.clone().requires_grad_(s == steps);
      logits = m.forward(xin);
      torch::nn::functional::cross_entropy(logits, ys).backward();
      if (sync) sync->finish();
      if (s < steps) opt.step();
      if (s == steps) input_grad = xin.grad().clone();
    }
    logits = logits.detach();
  };
  torch::Tensor ref_logits, ref_input_grad;
  {
    torch::optim::SGD opt(reference.parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
    run(reference, opt, x, y, nullptr, ref_logits, ref_input_grad);
  }
  const Snapshot ref(reference);

  std::vector<torch::Tensor> logits(2), input_grads(2), eval_out(2);
  std::vector<Snapshot> snaps;
  std::vector<std::size_t> layers(2);
  std::mutex m_snaps;
  run_ranks(2, [&](ProcessGroup& g) {
    const auto r = static_cast<std::size_t>(g.rank());
    Tiny m;
    copy_state(m, init);
    layers[r] = sync_batch_norm(m, g);
    GradientSync sync(g, m.parameters());
    torch::optim::SGD opt(m.parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
    run(m, opt, x.narrow(0, 8 * g.rank(), 8), y.narrow(0, 8 * g.rank(), 8), &sync, logits[r], input_grads[r]);
    {
      std::lock_guard lock(m_snaps);
      snaps.emplace_back(m);
      if (r == 0) std::swap(snaps.front(), snaps.back());
    }
    g.barrier();
    // evaluation uses the running statistics and communicates nothing: rank 0 runs alone
    if (r == 0) {
      m.eval();
      eval_out[0] = m.forward(x).detach();
      // a group of one detaches the synchronization: training mode is then local BatchNorm
      sync_batch_norm(m, ProcessGroup{});
      m.train();
      eval_out[1] = m.forward(x.narrow(0, 0, 4)).detach();
    }
  });
  REQUIRE(snaps.size() == 2);
  CHECK(layers[0] == 2);
  const double tol = 1e-5;
  CHECK(max_diff(logits[0], ref_logits.narrow(0, 0, 8)) < tol);
  CHECK(max_diff(logits[1], ref_logits.narrow(0, 8, 8)) < tol);
  // each rank's loss is the mean over its 8 samples, twice the reference's share of them
  CHECK(max_diff(input_grads[0], 2 * ref_input_grad.narrow(0, 0, 8)) < tol);
  CHECK(max_diff(input_grads[1], 2 * ref_input_grad.narrow(0, 8, 8)) < tol);
  for (const auto& s : snaps) {
    CHECK(max_diff(s.grads, ref.grads) < tol);      // averaged by GradientSync
    CHECK(max_diff(s.params, ref.params) < tol);    // after the SGD steps
    CHECK(max_diff(s.buffers, ref.buffers) < tol);  // running statistics, num_batches_tracked
  }
  // the statistics did move, so the comparison above means something
  CHECK(max_diff(ref.buffers, Snapshot(init).buffers) > 0.1);

  reference.eval();
  CHECK(max_diff(eval_out[0], reference.forward(x).detach()) < tol);
  Tiny local;
  copy_state(local, reference);
  CHECK(max_diff(eval_out[1], local.forward(x.narrow(0, 0, 4)).detach()) < tol);
}

TEST_CASE("distributed: sync batchnorm: uneven shards weigh each rank by its sample count", "[distributed][syncbn]") {
  torch::manual_seed(31);
  Tiny reference, init;
  init_weights(init);
  copy_state(reference, init);
  const auto x = torch::randn({16, 3, 4, 4});
  auto xr = x.clone().requires_grad_();
  const auto ref_out = reference.forward(xr);
  // a sum over the samples (scaled by the constant 1/16): per-rank sums add up to the reference's loss
  (ref_out.square().sum() / 16).backward();
  const Snapshot ref(reference);
  const std::int64_t first = 5;  // rank 0: samples [0, 5), rank 1: [5, 16)

  std::vector<torch::Tensor> outs(2), input_grads(2);
  std::vector<double> grad_diff(2), buffer_diff(2);
  run_ranks(2, [&](ProcessGroup& g) {
    const auto r = static_cast<std::size_t>(g.rank());
    Tiny m;
    copy_state(m, init);
    sync_batch_norm(m, g);
    const auto begin = r == 0 ? 0 : first, n = r == 0 ? first : 16 - first;
    auto xs = x.narrow(0, begin, n).clone().requires_grad_();
    outs[r] = m.forward(xs);
    (outs[r].square().sum() / 16).backward();
    outs[r] = outs[r].detach();
    input_grads[r] = xs.grad().clone();
    for (auto& p : m.parameters()) g.all_reduce_sum_(p.mutable_grad());  // summed, as the loss is
    const Snapshot s(m);
    grad_diff[r] = max_diff(s.grads, ref.grads);
    buffer_diff[r] = max_diff(s.buffers, ref.buffers);
  });
  const double tol = 1e-5;
  CHECK(max_diff(outs[0], ref_out.detach().narrow(0, 0, first)) < tol);
  CHECK(max_diff(outs[1], ref_out.detach().narrow(0, first, 16 - first)) < tol);
  CHECK(max_diff(input_grads[0], xr.grad().narrow(0, 0, first)) < tol);
  CHECK(max_diff(input_grads[1], xr.grad().narrow(0, first, 16 - first)) < tol);
  CHECK(grad_diff[0] < tol);
  CHECK(grad_diff[1] < tol);
  CHECK(buffer_diff[0] < tol);
  CHECK(buffer_diff[1] < tol);
}

TEST_CASE("distributed: sync batchnorm: every BatchNorm of ftmeta's models can be synchronized, a plain torch one is named", "[distributed][syncbn]") {
  using namespace ftmeta::nn;
  auto count_bn = [](torch::nn::Module& m) {
    std::size_t n = 0;
    for (const auto& c : m.modules())
      n += dynamic_cast<torch::nn::BatchNorm2dImpl*>(c.get()) || dynamic_cast<torch::nn::BatchNorm1dImpl*>(c.get()) ? 1 : 0;
    return n;
  };
  struct BnHead : Head<BatchNorm1d, Linear<8>, BatchNorm1d, Linear<Classes>> {};
  Classifier<Model<backbones::ResNet18, AvgPool, BnHead>> resnet(3);
  Classifier<Model<backbones::MobileNetV2, AvgPool, BnHead>> mobilenet(3);
  Classifier<Model<backbones::EfficientNetLite0, AvgPool, BnHead>> lite0(3);
  CHECK(count_bn(*resnet) == 20 + 2);  // stem, 2 per block, 3 downsamples; the head's two
  CHECK(sync_batch_norm(*resnet, ProcessGroup{}) == count_bn(*resnet));
  CHECK(count_bn(*mobilenet) > 50);
  CHECK(sync_batch_norm(*mobilenet, ProcessGroup{}) == count_bn(*mobilenet));
  CHECK(count_bn(*lite0) > 40);
  CHECK(sync_batch_norm(*lite0, ProcessGroup{}) == count_bn(*lite0));

  torch::nn::Sequential seq(torch::nn::Conv2d(3, 4, 1), torch::nn::BatchNorm2d(4));
  CHECK_THROWS_WITH(sync_batch_norm(*seq, ProcessGroup{}),
                    Contains("layer '1' is a plain torch::nn::BatchNorm") && Contains("SyncableBatchNorm2d"));
}

TEST_CASE("distributed: sync batchnorm: a peer that stops ends the synchronized forward with a message, not a hang", "[distributed][syncbn][failure]") {
  std::string message;
  const auto t0 = std::chrono::steady_clock::now();
  run_ranks(
      2,
      [&](ProcessGroup& g) {
        if (g.rank() == 1) return;  // leaves the group before the first step
        Tiny m;
        sync_batch_norm(m, g);
        try {
          m.forward(torch::randn({4, 3, 4, 4}));
        } catch (const ftmeta::Error& e) {
          message = e.what();
        }
      },
      std::chrono::seconds(2));
  CHECK_THAT(message, Contains("distributed: rank 0 of 2") && Contains("synchronized BatchNorm statistics"));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20));
}

}  // namespace unit_distributed_sync_batchnorm

// A data-parallel training run for the multi-process tests: a small MLP on seeded random features,
// trained for a fixed number of steps with a fixed global batch, alone or as one rank of a group
// that torchrun's variables describe. Rank 0 writes the final weights and the reduced metrics.
//
//   distributed_train --steps 12 --batch 32 --out one.bin                       # one process
//   WORLD_SIZE=2 RANK=r MASTER_ADDR=127.0.0.1 MASTER_PORT=p distributed_train ... --out two.bin
//   distributed_train --compare one.bin two.bin --tol 1e-5 [--weights-only]      # exit 1 if they differ
//
// Faults for the failure tests: --die-rank R --die-step K (rank R kills itself with SIGKILL at step
// K), --hang-rank R --hang-step K (rank R stops answering at step K). Checkpoints: --save FILE
// (rank 0, the model's own parameter names), --load FILE (before the broadcast). --bn: a
// BatchNorm1d after each hidden layer, each rank's on its own samples; --sync-bn: the same layers
// synchronized across the ranks (distributed/sync_batchnorm.hpp), so two ranks of 16 still match one
// process of 32, running statistics included.
#include <ftmeta/distributed.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace dist = ftmeta::distributed;

namespace {

struct Args {
  std::int64_t steps = 12, batch = 32, samples = 192, features = 32, classes = 4, hidden = 64;
  std::string out, compare_a, compare_b, save, load;
  double tol = 1e-5, lr = 0.05;
  bool weights_only = false, batch_norm = false, sync_bn = false;
  int die_rank = -1, die_step = -1, hang_rank = -1, hang_step = -1;
  std::int64_t bucket_kib = 8;
};

std::int64_t number(const std::string& flag, const char* v) {
  try {
    std::size_t end = 0;
    const auto x = std::stoll(v, &end);
    if (end == std::string(v).size()) return x;
  } catch (const std::exception&) {
  }
  throw ftmeta::UsageError("distributed_train: " + flag + " wants an integer, got '" + v + "'");
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string f = argv[i];
    const auto next = [&]() -> const char* {
      if (i + 1 >= argc) throw ftmeta::UsageError("distributed_train: " + f + " needs a value");
      return argv[++i];
    };
    if (f == "--steps") a.steps = number(f, next());
    else if (f == "--batch") a.batch = number(f, next());
    else if (f == "--samples") a.samples = number(f, next());
    else if (f == "--hidden") a.hidden = number(f, next());
    else if (f == "--out") a.out = next();
    else if (f == "--save") a.save = next();
    else if (f == "--load") a.load = next();
    else if (f == "--bucket-kib") a.bucket_kib = number(f, next());
    else if (f == "--compare") a.compare_a = next(), a.compare_b = next();
    else if (f == "--tol") a.tol = std::stod(next());
    else if (f == "--weights-only") a.weights_only = true;
    else if (f == "--bn") a.batch_norm = true;
    else if (f == "--sync-bn") a.batch_norm = a.sync_bn = true;
    else if (f == "--die-rank") a.die_rank = static_cast<int>(number(f, next()));
    else if (f == "--die-step") a.die_step = static_cast<int>(number(f, next()));
    else if (f == "--hang-rank") a.hang_rank = static_cast<int>(number(f, next()));
    else if (f == "--hang-step") a.hang_step = static_cast<int>(number(f, next()));
    else throw ftmeta::UsageError("distributed_train: unknown flag " + f);
  }
  return a;
}

struct Net : torch::nn::Module {
  torch::nn::Linear l1{nullptr}, l2{nullptr}, l3{nullptr};
  ftmeta::nn::SyncableBatchNorm1d n1{nullptr}, n2{nullptr};
  Net(std::int64_t in, std::int64_t hidden, std::int64_t out, bool batch_norm) {
    l1 = register_module("l1", torch::nn::Linear(in, hidden));
    l2 = register_module("l2", torch::nn::Linear(hidden, hidden));
    l3 = register_module("l3", torch::nn::Linear(hidden, out));
    if (batch_norm) {
      n1 = register_module("n1", ftmeta::nn::SyncableBatchNorm1d(hidden));
      n2 = register_module("n2", ftmeta::nn::SyncableBatchNorm1d(hidden));
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    x = l1(x);
    if (n1) x = n1(x);
    x = l2(torch::relu(x));
    if (n2) x = n2(x);
    return l3(torch::relu(x));
  }
};

// The file: the parameter values and buffers, then loss sum, correct and sample count of the last epoch.
void write_result(const std::string& path, Net& net, const std::vector<double>& metrics) {
  std::vector<double> v;
  auto tensors = net.parameters();
  for (auto& b : net.buffers()) tensors.push_back(b);
  for (auto& p : tensors) {
    auto flat = p.detach().to(torch::kFloat64).contiguous().view({-1});
    v.insert(v.end(), flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
  }
  v.insert(v.end(), metrics.begin(), metrics.end());
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(double)));
  if (!f) throw ftmeta::FileError("distributed_train: cannot write " + path);
}

std::vector<double> read_result(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw ftmeta::FileError("distributed_train: cannot read " + path);
  std::vector<double> v(static_cast<std::size_t>(f.tellg()) / sizeof(double));
  f.seekg(0);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(double)));
  return v;
}

int compare(const Args& a) {
  const auto x = read_result(a.compare_a), y = read_result(a.compare_b);
  if (x.size() != y.size() || x.size() < 3) {
    std::cerr << "distributed_train: " << a.compare_a << " and " << a.compare_b << " hold different runs\n";
    return 1;
  }
  double params = 0, loss = 0;
  for (std::size_t i = 0; i + 3 < x.size(); ++i) params = std::max(params, std::abs(x[i] - y[i]));
  const auto n = x.size();
  if (x[n - 1] > 0 && y[n - 1] > 0) loss = std::abs(x[n - 3] / x[n - 1] - y[n - 3] / y[n - 1]);
  const bool counts_equal = x[n - 2] == y[n - 2] && x[n - 1] == y[n - 1];
  std::cout << "max |weight difference| " << params << ", |mean loss difference| " << loss << ", correct " << x[n - 2]
            << " vs " << y[n - 2] << ", samples " << x[n - 1] << " vs " << y[n - 1] << "\n";
  return params <= a.tol && (a.weights_only || (loss <= a.tol && counts_equal)) ? 0 : 1;
}

int run(const Args& a) {
  torch::set_num_threads(1);
  auto group = dist::ProcessGroup::from_env();
  const int world = group.world_size(), rank = group.rank();
  if (a.batch % world != 0 || a.samples % a.batch != 0)
    throw ftmeta::UsageError("distributed_train: --batch must divide by WORLD_SIZE and --samples by --batch");
  torch::manual_seed(1234);  // the same data on every rank
  const auto x = torch::randn({a.samples, a.features});
  const auto y = torch::randint(0, a.classes, {a.samples});
  torch::manual_seed(99 + rank);  // a different start per rank: the broadcast must fix it
  Net net(a.features, a.hidden, a.classes, a.batch_norm);
  if (!a.load.empty()) {  // every rank loads; the broadcast would also cover ranks that did not
    torch::serialize::InputArchive archive;
    archive.load_from(a.load);
    net.load(archive);
  }
  group.broadcast_module(net);
  if (a.sync_bn) dist::sync_batch_norm(net, group);
  dist::GradientSync sync(group, net.parameters(), {.bucket_bytes = a.bucket_kib << 10});
  torch::optim::SGD opt(net.parameters(), torch::optim::SGDOptions(a.lr).momentum(0.9));
  const std::int64_t local = a.batch / world, per_epoch = a.samples / a.batch;
  std::vector<double> metrics{0, 0, 0};
  std::vector<std::int64_t> shard;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::int64_t step = 0; step < a.steps; ++step) {
    const std::int64_t epoch = step / per_epoch, k = step % per_epoch;
    if (k == 0) {
      shard = ftmeta::data::DistributedSampler{.rank = rank, .world_size = world}(a.samples, 5, static_cast<std::uint64_t>(epoch));
      std::fill(metrics.begin(), metrics.end(), 0.0);
    }
    if (rank == a.die_rank && step == a.die_step) std::raise(SIGKILL);
    if (rank == a.hang_rank && step == a.hang_step) std::this_thread::sleep_for(std::chrono::hours(1));
    const auto idx = torch::tensor(std::vector<std::int64_t>(shard.begin() + k * local, shard.begin() + (k + 1) * local));
    const auto xb = x.index_select(0, idx), yb = y.index_select(0, idx);
    opt.zero_grad();
    const auto logits = net.forward(xb);
    const auto loss = torch::nn::functional::cross_entropy(logits, yb);
    loss.backward();
    sync.finish();
    opt.step();
    metrics[0] += loss.item<double>() * static_cast<double>(local);
    metrics[1] += static_cast<double>(logits.argmax(1).eq(yb).sum().item<std::int64_t>());
    metrics[2] += static_cast<double>(local);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto total = group.sum(metrics);  // the last epoch's sums over all ranks
  if (group.is_main()) {
    std::cout << "world " << world << " steps " << a.steps << " global batch " << a.batch << " seconds " << seconds
              << " samples/s " << static_cast<double>(a.steps * a.batch) / std::max(seconds, 1e-9);
    if (total[2] > 0) std::cout << " last-epoch loss " << total[0] / total[2] << " accuracy " << total[1] / total[2];
    std::cout << "\n";
    if (!a.out.empty()) write_result(a.out, net, total);
    if (!a.save.empty()) {  // plain parameter names: the model is never wrapped, so no "module." prefix
      torch::serialize::OutputArchive archive;
      net.save(archive);
      archive.save_to(a.save);
    }
  }
  group.barrier();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const auto a = parse(argc, argv);
    return a.compare_a.empty() ? run(a) : compare(a);
  } catch (const ftmeta::UsageError& e) {
    std::cerr << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}

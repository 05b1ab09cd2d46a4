// Data-parallel scaling: training steps of an MLP (a head-sized model: 512 -> 1024 -> 1024 -> 10,
// about 1.6 M parameters) with a fixed global batch, alone or as one rank of a torchrun-style group
// (ftmeta::distributed: Gloo, bucketed all-reduce overlapped with backward). Rank 0 prints one line
// that benchmarks/run_distributed_scaling.sh turns into the table; distributed_scaling.py is the
// PyTorch DistributedDataParallel peer with the same model, batch and steps.
//
//   bench_distributed_scaling [--steps 30] [--warmup 5] [--batch 256] [--threads 1] [--bucket-kib 25600] [--breakdown 1]
#include <ftmeta/distributed.hpp>

#include "timer.hpp"

#include <cstdint>
#include <iostream>
#include <string>

int main(int argc, char** argv) try {
  std::int64_t steps = 30, warmup = 5, batch = 256, threads = 1, bucket_kib = 25 << 10, breakdown = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string f = argv[i];
    const std::int64_t v = std::stoll(argv[i + 1]);
    if (f == "--steps") steps = v;
    else if (f == "--warmup") warmup = v;
    else if (f == "--batch") batch = v;
    else if (f == "--threads") threads = v;
    else if (f == "--bucket-kib") bucket_kib = v;
    else if (f == "--breakdown") breakdown = v;
    else throw ftmeta::UsageError("bench_distributed_scaling: unknown flag " + f);
  }
  torch::set_num_threads(static_cast<int>(threads));
  auto group = ftmeta::distributed::ProcessGroup::from_env();
  const std::int64_t local = batch / group.world_size();
  torch::manual_seed(0);
  torch::nn::Sequential net(torch::nn::Linear(512, 1024), torch::nn::ReLU(), torch::nn::Linear(1024, 1024),
                            torch::nn::ReLU(), torch::nn::Linear(1024, 10));
  group.broadcast_module(*net);
  ftmeta::distributed::GradientSync sync(group, net->parameters(), {.bucket_bytes = bucket_kib << 10});
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  torch::manual_seed(1 + group.rank());
  const auto x = torch::randn({local, 512});
  const auto y = torch::randint(0, 10, {local});
  double seconds = 0, phase[3] = {0, 0, 0};  // forward+backward, finish (waiting for the reduction), step
  for (std::int64_t s = 0; s < warmup + steps; ++s) {
    if (s == warmup) group.barrier();
    const double t0 = ftmeta::bench::wall_seconds();
    opt.zero_grad();
    torch::nn::functional::cross_entropy(net->forward(x), y).backward();
    const double t1 = ftmeta::bench::wall_seconds();
    sync.finish();
    const double t2 = ftmeta::bench::wall_seconds();
    opt.step();
    const double t3 = ftmeta::bench::wall_seconds();
    if (s >= warmup) {
      seconds += (t3 - t0);
      phase[0] += (t1 - t0);
      phase[1] += (t2 - t1);
      phase[2] += (t3 - t2);
    }
  }
  const auto summed = group.sum(std::vector<double>{seconds});  // over ranks: their mean below
  if (group.is_main())
    std::cout << "impl ftmeta world " << group.world_size() << " global_batch " << batch << " step_ms "
              << 1e3 * summed[0] / group.world_size() / static_cast<double>(steps) << " samples_per_s "
              << static_cast<double>(batch * steps) / (summed[0] / group.world_size()) << "\n";
  if (breakdown)
    std::cerr << "rank " << group.rank() << " ms/step: forward+backward " << 1e3 * phase[0] / steps << ", finish "
              << 1e3 * phase[1] / steps << ", step " << 1e3 * phase[2] / steps << "\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << e.what() << "\n";
  return 1;
}

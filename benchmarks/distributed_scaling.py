"""PyTorch's peer of bench_distributed_scaling: the same MLP, global batch and steps, with
torch.nn.parallel.DistributedDataParallel on Gloo when started by torchrun (WORLD_SIZE > 1), plain
training otherwise. Prints the same one-line format as the C++ benchmark.

    python distributed_scaling.py [--steps 30] [--warmup 5] [--batch 256] [--threads 1]
    torchrun --nproc-per-node 2 distributed_scaling.py ...
"""
import argparse
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--breakdown", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:
        dist.init_process_group("gloo")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(512, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 1024),
                              torch.nn.ReLU(), torch.nn.Linear(1024, 10))
    model = torch.nn.parallel.DistributedDataParallel(net) if world > 1 else net
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    torch.manual_seed(1 + rank)
    local = a.batch // world
    x = torch.randn(local, 512)
    y = torch.randint(0, 10, (local,))
    seconds = 0.0
    phase = [0.0]
    for s in range(a.warmup + a.steps):
        if s == a.warmup and world > 1:
            dist.barrier()
        t0 = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()  # DDP: waits for its reduction at the end
        t1 = time.perf_counter()
        opt.step()
        if s >= a.warmup:
            seconds += time.perf_counter() - t0
            phase[0] += t1 - t0
    t = torch.tensor([seconds], dtype=torch.float64)
    if world > 1:
        dist.all_reduce(t)
    mean = t.item() / world
    if rank == 0:
        print(f"impl pytorch world {world} global_batch {a.batch} step_ms {1e3 * mean / a.steps} "
              f"samples_per_s {a.batch * a.steps / mean}")
    if a.breakdown:
        print(f"rank {rank} ms/step: forward+backward+reduction {1e3 * phase[0] / a.steps:.1f}, "
              f"step {1e3 * (seconds - phase[0]) / a.steps:.1f}", file=sys.stderr)
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()

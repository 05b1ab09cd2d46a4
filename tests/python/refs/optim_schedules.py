"""Learning-rate trajectories of torch.optim.lr_scheduler, for ftmeta's schedule types.

Writes optim_schedules/NAME.npy (float64): the lr of one param group right after the scheduler is
built, then after each scheduler.step(); and plateau_*_metric.npy, the metric fed to
ReduceLROnPlateau (random but seeded, with plateaus). Every number comes from running PyTorch.
"""
import pathlib

import numpy as np
import torch
from torch.optim import lr_scheduler as S

BASE = 0.1


def trajectory(make, steps, metrics=None):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=BASE, momentum=0.9)
    sched = make(opt)
    lrs = [opt.param_groups[0]["lr"]]
    for i in range(steps):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(float(metrics[i]))
        lrs.append(opt.param_groups[0]["lr"])
    return np.array(lrs, dtype=np.float64)


def make(out: pathlib.Path) -> None:
    runs = {
        "constant": (lambda o: S.LambdaLR(o, lambda e: 1.0), 10),
        "step": (lambda o: S.StepLR(o, step_size=3, gamma=0.5), 20),
        "multistep": (lambda o: S.MultiStepLR(o, milestones=[4, 9, 9, 15], gamma=0.3), 20),
        "exponential": (lambda o: S.ExponentialLR(o, gamma=0.9), 20),
        "cosine": (lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=1e-4), 25),
        "cosine_horizon": (lambda o: S.CosineAnnealingLR(o, T_max=12), 12),
        "warmup_cosine": (
            lambda o: S.SequentialLR(
                o, [S.LinearLR(o, start_factor=0.1, total_iters=5), S.CosineAnnealingLR(o, T_max=15, eta_min=1e-5)], milestones=[5]
            ),
            25,
        ),
        "warmup_step": (
            lambda o: S.SequentialLR(o, [S.LinearLR(o, total_iters=3), S.StepLR(o, step_size=2, gamma=0.5)], milestones=[3]),
            12,
        ),
        "onecycle": (lambda o: S.OneCycleLR(o, max_lr=BASE, total_steps=30, cycle_momentum=False), 30),
        "onecycle_three": (
            lambda o: S.OneCycleLR(
                o, max_lr=BASE, total_steps=40, pct_start=0.25, div_factor=10.0, final_div_factor=100.0, three_phase=True,
                cycle_momentum=False,
            ),
            40,
        ),
    }
    for name, (factory, steps) in runs.items():
        np.save(out / f"{name}.npy", trajectory(factory, steps))

    g = torch.Generator().manual_seed(6)
    # A loss that falls, then wanders on plateaus; an accuracy that rises, then stalls.
    loss = (torch.linspace(2.0, 0.5, 30, dtype=torch.float64).clamp(min=1.0) + 0.05 * torch.rand(30, generator=g, dtype=torch.float64))
    acc = (torch.linspace(0.2, 0.9, 30, dtype=torch.float64).clamp(max=0.6) + 0.01 * torch.rand(30, generator=g, dtype=torch.float64))
    np.save(out / "plateau_min_metric.npy", loss.numpy())
    np.save(out / "plateau_max_metric.npy", acc.numpy())
    np.save(
        out / "plateau_min.npy",
        trajectory(lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=2, threshold=1e-4, cooldown=1, min_lr=1e-3), 30, loss.numpy()),
    )
    np.save(out / "plateau_max.npy", trajectory(lambda o: S.ReduceLROnPlateau(o, mode="max", factor=0.2, patience=1), 30, acc.numpy()))

"""torch.amp.GradScaler on the CPU for a scripted sequence of gradients, as the reference for
ftmeta's GradScaler: writes amp/grads.npy [steps, 3] (the gradient of a 3-parameter model at each
step, some infinite), amp/scales.npy [steps] (the scale after each update), amp/params.npy [steps, 3]
(the parameters after each step), with SGD(lr=0.1), init_scale 8, growth_interval 2."""
import pathlib

import numpy as np
import torch


def make(out: pathlib.Path) -> None:
    grads = np.array([[1, 2, 3], [np.inf, 0, 0], [0.5, 0.5, 0.5], [1, 1, 1], [-1, 0, 1], [np.nan, 1, 1], [2, 2, 2]],
                     dtype=np.float32)
    p = torch.nn.Parameter(torch.zeros(3))
    opt = torch.optim.SGD([p], lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=8.0, growth_factor=2.0, backoff_factor=0.5, growth_interval=2)
    scales, params = [], []
    for g in grads:
        opt.zero_grad()
        loss = (p * torch.from_numpy(g)).sum()  # d loss / d p = g
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
        params.append(p.detach().numpy().copy())
    np.save(out / "grads.npy", grads)
    np.save(out / "scales.npy", np.array(scales, dtype=np.float64))
    np.save(out / "params.npy", np.array(params, dtype=np.float32))

"""Optimizer steps of torch.optim (SGD, Adam, AdamW) with per-group settings, for ftmeta's recipes.

A small model's parameters, in the order of the C++ test's toy module:
  backbone.stem.weight [6,4], backbone.stem.bias [6], backbone.norm.weight [6], backbone.norm.bias [6],
  backbone.stage1.weight [5,6], backbone.stage1.bias [5], head.weight [3,5], head.bias [3]
(stage "stem" holds stem and norm, stage "stage1" holds stage1). Writes optim_steps/init.npy (all
parameters flattened and concatenated, float32), grads.npy ([STEPS, total]) and, per recipe,
NAME.npy ([STEPS, total]): the parameters after each step of PyTorch's optimizer with the param
groups the C++ recipe declares (and gradient clipping where it declares it).
"""
import pathlib

import numpy as np
import torch

SHAPES = [
    ("backbone.stem.weight", (6, 4)),
    ("backbone.stem.bias", (6,)),
    ("backbone.norm.weight", (6,)),
    ("backbone.norm.bias", (6,)),
    ("backbone.stage1.weight", (5, 6)),
    ("backbone.stage1.bias", (5,)),
    ("head.weight", (3, 5)),
    ("head.bias", (3,)),
]
STEPS = 4


def stage(name):
    return "stage1" if name.startswith("backbone.stage1") else "stem"


def run(init, grads, groups_of, make_opt, clip=None):
    params = {n: torch.nn.Parameter(t.clone()) for n, t in init.items()}
    opt = make_opt(groups_of(params))
    rows = []
    for s in range(STEPS):
        for n, p in params.items():
            p.grad = grads[s][n].clone()
        if clip is not None:
            clip(list(params.values()))
        opt.step()
        rows.append(torch.cat([p.detach().flatten() for p in params.values()]))
    return torch.stack(rows).numpy()


def make(out: pathlib.Path) -> None:
    g = torch.Generator().manual_seed(66)
    init = {n: torch.randn(s, generator=g) for n, s in SHAPES}
    grads = [{n: 0.5 * torch.randn(s, generator=g) for n, s in SHAPES} for _ in range(STEPS)]
    np.save(out / "init.npy", torch.cat([t.flatten() for t in init.values()]).numpy())
    np.save(out / "grads.npy", torch.stack([torch.cat([gr[n].flatten() for n, _ in SHAPES]) for gr in grads]).numpy())

    bb = lambda P: [p for n, p in P.items() if n.startswith("backbone.")]
    bb_w = lambda P: [p for n, p in P.items() if n.startswith("backbone.") and p.dim() > 1]
    bb_nb = lambda P: [p for n, p in P.items() if n.startswith("backbone.") and p.dim() <= 1]
    head = lambda P: [p for n, p in P.items() if n.startswith("head.")]

    # Sgd<Momentum<0.9>, Dampening<0.1>, Group<BackbonePart, Lr<0.1>, WeightDecay<1e-2>>,
    #     Group<NormAndBias<BackbonePart>, Lr<0.05>, WeightDecay<0.0>>, Group<HeadPart, Lr<0.01>>>
    np.save(out / "sgd.npy", run(init, grads, lambda P: [
        {"params": bb_w(P), "lr": 0.1, "weight_decay": 1e-2},
        {"params": bb_nb(P), "lr": 0.05, "weight_decay": 0.0},
        {"params": head(P), "lr": 0.01},
    ], lambda G: torch.optim.SGD(G, lr=0.1, momentum=0.9, dampening=0.1)))

    # Sgd<Momentum<0.8>, Nesterov, WeightDecay<1e-3>, Group<Stage<"stage1">, Lr<0.2>>,
    #     Group<BackbonePart, Lr<0.1>>, Group<HeadPart, Lr<0.3>>>
    np.save(out / "nesterov.npy", run(init, grads, lambda P: [
        {"params": [p for n, p in P.items() if n.startswith("backbone.stage1")], "lr": 0.2},
        {"params": [p for n, p in P.items() if n.startswith("backbone.") and stage(n) == "stem"], "lr": 0.1},
        {"params": head(P), "lr": 0.3},
    ], lambda G: torch.optim.SGD(G, lr=0.1, momentum=0.8, nesterov=True, weight_decay=1e-3)))

    # Adam<Betas<0.8, 0.99>, Eps<1e-6>, Group<BackbonePart, Lr<1e-2>, WeightDecay<1e-2>>, Group<HeadPart, Lr<1e-3>>>
    np.save(out / "adam.npy", run(init, grads, lambda P: [
        {"params": bb(P), "lr": 1e-2, "weight_decay": 1e-2},
        {"params": head(P), "lr": 1e-3},
    ], lambda G: torch.optim.Adam(G, lr=1e-2, betas=(0.8, 0.99), eps=1e-6)))

    # AdamW<BaseLr<1e-2>, Group<BackbonePart, LrScale<0.5>, LayerDecay<0.5>>,
    #       Group<NormAndBias<BackbonePart>, LrScale<1.0>, WeightDecay<0.0>>, Group<HeadPart, LrScale<1.0>>>
    # (AdamW's default weight decay 1e-2; layer decay: stage1 at 0.5 * 1e-2, stem at half that.)
    np.save(out / "adamw.npy", run(init, grads, lambda P: [
        {"params": [P["backbone.stem.weight"]], "lr": 0.25e-2},
        {"params": [P["backbone.stage1.weight"]], "lr": 0.5e-2},
        {"params": bb_nb(P), "lr": 1e-2, "weight_decay": 0.0},
        {"params": head(P), "lr": 1e-2},
    ], lambda G: torch.optim.AdamW(G, lr=1e-2)))

    # Sgd<Momentum<0.9>, ClipGradNorm<0.5>, Group<BackbonePart, Lr<0.1>>, Group<HeadPart, Lr<0.1>>>
    two = lambda P: [{"params": bb(P), "lr": 0.1}, {"params": head(P), "lr": 0.1}]
    np.save(out / "clip_norm.npy", run(init, grads, two, lambda G: torch.optim.SGD(G, lr=0.1, momentum=0.9),
                                       clip=lambda ps: torch.nn.utils.clip_grad_norm_(ps, 0.5)))
    # ... with ClipGradValue<0.3> instead
    np.save(out / "clip_value.npy", run(init, grads, two, lambda G: torch.optim.SGD(G, lr=0.1, momentum=0.9),
                                        clip=lambda ps: torch.nn.utils.clip_grad_value_(ps, 0.3)))

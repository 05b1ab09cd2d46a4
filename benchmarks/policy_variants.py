"""The experiments that chose ftmeta's default fine-tuning policy (docs/results.md, "How the default was
chosen"): a small PyTorch re-implementation of the policy's two phases, with its knobs as flags, run on a
few-shot tree (fewshot_data.py) and scored on the development set (fewshot_data.py --dev: 2000 training
images no few-shot tree contains), never on the test set.

Phase 1, the head: the frozen ImageNet-pretrained Lite0 embeds the training images once (evaluation
preprocessing: bilinear resize to the input side, [-1, 1]); the head is fitted on the cached features,
with AdamW (the policy's head phase, --lpmode adam) or as a full-batch L-BFGS logistic regression on
standardized features with the weight decay picked on val (--lpmode lbfgs, the linear-probe baseline).
Phase 2, the whole network from that head: AdamW or SGD (Nesterov), backbone and head learning rates,
linear warmup then cosine, no weight decay on 1-D tensors, label smoothing, RandomResizedCrop + flip, the
backbone's BatchNorm statistics frozen or trained (--bn), optionally re-estimated first (--adabn).

Usage: policy_variants.py TREE [--dev DEV_TREE] [--steps 300] [--bs 32] [--blr 3e-4] [--hlr 3e-3]
                          [--opt adamw|sgd] [--bn frozen|train] [--head linear|mlp] [--scale 0.35] ...
Prints the head phase's and the fine-tuned network's accuracy on val and on the development set.
"""
import argparse
import math
import pathlib
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from python_baseline import load_lite0_module  # noqa: E402


def args():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--dev", default=None, help="tree whose test/ is the development set (default: DATA's test/)")
    ap.add_argument("--dev-limit", type=int, default=2000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--head", default="linear", choices=["linear", "mlp"])
    ap.add_argument("--lpmode", default="adam", choices=["adam", "lbfgs"])
    ap.add_argument("--lpsteps", type=int, default=1000)
    ap.add_argument("--lplr", type=float, default=1e-3)
    ap.add_argument("--lpwd", type=float, default=1e-4)
    ap.add_argument("--adabn", action="store_true")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--bs", type=int, default=32)
    ap.add_argument("--opt", default="adamw", choices=["adamw", "sgd"])
    ap.add_argument("--blr", type=float, default=3e-4)
    ap.add_argument("--hlr", type=float, default=3e-3)
    ap.add_argument("--wd", type=float, default=0.01)
    ap.add_argument("--ls", type=float, default=0.1)
    ap.add_argument("--warm", type=float, default=0.1)
    ap.add_argument("--scale", type=float, default=0.35)
    ap.add_argument("--bn", default="frozen", choices=["frozen", "train"])
    return ap.parse_args()


def load(root, split, classes, limit=None):
    xs, ys = [], []
    for c, name in enumerate(classes):
        for f in sorted((root / split / name).iterdir()):
            xs.append(np.array(Image.open(f).convert("L")))
            ys.append(c)
    x, y = torch.from_numpy(np.stack(xs)), torch.tensor(ys)
    if limit and len(y) > limit:
        idx = torch.randperm(len(y), generator=torch.Generator().manual_seed(1))[:limit]
        x, y = x[idx], y[idx]
    return x, y


def main():
    a = args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    root = pathlib.Path(a.data)
    classes = sorted(p.name for p in (root / "train").iterdir())
    tx, ty = load(root, "train", classes)
    vx, vy = load(root, "val", classes)
    dx, dy = load(pathlib.Path(a.dev) if a.dev else root, "test", classes, a.dev_limit)
    S = a.size
    fmt = torch.channels_last

    def normalize(x):  # [N,1,S,S] in [0,1] -> [N,3,S,S] in [-1,1]
        return ((x - 0.5) / 0.5).expand(-1, 3, -1, -1).contiguous(memory_format=fmt)

    def plain(x):
        return normalize(F.interpolate(x.float().div(255).unsqueeze(1), size=(S, S), mode="bilinear", align_corners=False))

    def augment(x):  # RandomResizedCrop(S, scale=(a.scale, 1)) + horizontal flip, per image
        out = []
        for img in x.float().div(255).unsqueeze(1):
            H, W = img.shape[-2:]
            i, j, h, w = 0, 0, H, W
            for _ in range(10):
                area = H * W * rng.uniform(a.scale, 1.0)
                r = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
                cw, ch = int(round(math.sqrt(area * r))), int(round(math.sqrt(area / r)))
                if 0 < cw <= W and 0 < ch <= H:
                    i, j, h, w = rng.integers(0, H - ch + 1), rng.integers(0, W - cw + 1), ch, cw
                    break
            c = F.interpolate(img[:, i:i + h, j:j + w].unsqueeze(0), size=(S, S), mode="bilinear", align_corners=False)
            out.append(c.flip(-1) if rng.random() < 0.5 else c)
        return normalize(torch.cat(out))

    lite0 = load_lite0_module()
    backbone = lite0.Lite0(num_classes=0)
    state = torch.load(lite0.weights_path(), map_location="cpu", weights_only=True)
    backbone.load_state_dict({k: v for k, v in state.items() if not k.startswith("_fc.")})
    backbone = backbone.to(memory_format=fmt)
    n_cls = len(classes)
    head = (nn.Sequential(nn.Linear(1280, n_cls)) if a.head == "linear" else
            nn.Sequential(nn.BatchNorm1d(1280), nn.Dropout(0.5), nn.Linear(1280, 512), nn.BatchNorm1d(512), nn.ELU(),
                          nn.Dropout(0.5), nn.Linear(512, n_cls)))

    def features(x):
        return backbone.features(x).mean((2, 3))

    @torch.no_grad()
    def embed(x):
        backbone.eval()
        return torch.cat([features(plain(x[i:i + 256])) for i in range(0, len(x), 256)])

    @torch.no_grad()
    def accuracy(x, y):
        backbone.eval()
        head.eval()
        hits = sum((head(features(plain(x[i:i + 256]))).argmax(1) == y[i:i + 256]).sum().item() for i in range(0, len(x), 256))
        return hits / len(y)

    t0 = time.time()
    if a.adabn:  # re-estimate every BatchNorm's statistics on the training images
        with torch.no_grad():
            saved = {}
            for m in backbone.modules():
                if isinstance(m, nn.BatchNorm2d):
                    saved[m] = m.momentum
                    m.reset_running_stats()
                    m.momentum = None
            backbone.train()
            for i in range(0, len(tx), 64):
                features(plain(tx[i:i + 64]))
            for m, mo in saved.items():
                m.momentum = mo

    # --- phase 1: the head on cached features -------------------------------------------------
    ftr, fva = embed(tx), embed(vx)
    if a.lpmode == "adam":
        opt = torch.optim.AdamW([{"params": [p for p in head.parameters() if p.dim() > 1], "weight_decay": a.lpwd},
                                 {"params": [p for p in head.parameters() if p.dim() <= 1], "weight_decay": 0}], lr=a.lplr)
        g, steps, n = torch.Generator().manual_seed(0), 0, len(ty)
        while steps < a.lpsteps:
            head.train()
            perm = torch.randperm(n, generator=g)
            for i in range(0, n, 256):
                idx = perm[i:i + 256]
                if len(idx) < 2 or steps >= a.lpsteps:
                    continue
                for group in opt.param_groups:
                    group["lr"] = a.lplr * 0.5 * (1 + math.cos(math.pi * steps / a.lpsteps))
                loss = F.cross_entropy(head(ftr[idx]), ty[idx], label_smoothing=a.ls)
                opt.zero_grad()
                loss.backward()
                opt.step()
                steps += 1
    else:
        if a.head != "linear":
            raise SystemExit("policy_variants: --lpmode lbfgs fits a linear head")
        mu, sd = ftr.mean(0), ftr.std(0) + 1e-6
        best = None
        for wd in (1e-4, 1e-3, 1e-2, 1e-1):
            lin = nn.Linear(1280, n_cls)
            lbfgs = torch.optim.LBFGS(lin.parameters(), lr=1, max_iter=200, history_size=20, line_search_fn="strong_wolfe")

            def closure():
                lbfgs.zero_grad()
                loss = F.cross_entropy(lin((ftr - mu) / sd), ty) + wd * lin.weight.pow(2).sum()
                loss.backward()
                return loss

            lbfgs.step(closure)
            with torch.no_grad():
                va = (lin((fva - mu) / sd).argmax(1) == vy).float().mean().item()
            if best is None or va > best[0]:
                best = (va, lin)
        with torch.no_grad():  # the standardization folded into the head
            head[0].weight.copy_(best[1].weight / sd)
            head[0].bias.copy_(best[1].bias - (best[1].weight / sd) @ mu)
    print(f"head phase ({a.lpmode}): val {accuracy(vx, vy):.4f} dev {accuracy(dx, dy):.4f} ({time.time() - t0:.1f} s)", flush=True)
    if a.steps == 0:
        return

    # --- phase 2: the whole network ----------------------------------------------------------------
    groups = [{"params": [p for p in backbone.parameters() if p.dim() > 1], "lr": a.blr, "weight_decay": a.wd},
              {"params": [p for p in backbone.parameters() if p.dim() <= 1], "lr": a.blr, "weight_decay": 0},
              {"params": [p for p in head.parameters() if p.dim() > 1], "lr": a.hlr, "weight_decay": a.wd},
              {"params": [p for p in head.parameters() if p.dim() <= 1], "lr": a.hlr, "weight_decay": 0}]
    opt = torch.optim.AdamW(groups) if a.opt == "adamw" else torch.optim.SGD(groups, momentum=0.9, nesterov=True)
    base = [g["lr"] for g in opt.param_groups]
    n, pos, perm, t1 = len(ty), 0, torch.randperm(len(ty)), time.time()
    for step in range(a.steps):
        f = step / a.steps
        scale = (step + 1) / (a.warm * a.steps) if f < a.warm else 0.5 * (1 + math.cos(math.pi * (f - a.warm) / (1 - a.warm)))
        for group, b in zip(opt.param_groups, base):
            group["lr"] = b * scale
        if pos + a.bs > n:
            perm, pos = torch.randperm(n), 0
        idx = perm[pos:pos + a.bs]
        pos += a.bs
        backbone.train()
        head.train()
        if a.bn == "frozen":
            for m in backbone.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        loss = F.cross_entropy(head(features(augment(tx[idx]))), ty[idx], label_smoothing=a.ls)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 99:
            print(f"step {step + 1} loss {loss.item():.3f} ({time.time() - t1:.0f} s) val {accuracy(vx, vy):.4f}", flush=True)
    print(f"fine-tuned: val {accuracy(vx, vy):.4f} dev {accuracy(dx, dy):.4f} (total {time.time() - t0:.1f} s)", flush=True)


if __name__ == "__main__":
    main()

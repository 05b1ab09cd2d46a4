"""Compares two finetune output folders for tests/distributed/run_finetune.sh: the losses of
metrics.csv, epoch by epoch, and the weights and BatchNorm statistics of last.pt (read with
torch.jit.load: LibTorch's archives are TorchScript modules). Prints the largest differences and
exits 1 when one exceeds its tolerance, or 2 when the runs do not have the same epochs or tensors.

    compare_runs.py A B --loss-tol 0.05 [--val-loss-tol 0.1] --weight-tol 0.01 [--expect-differ]

--loss-tol: largest |a - b| / |a| of train_loss (and of val_loss, unless --val-loss-tol judges it
apart: a validation split of a few images after a few steps swings more than the training loss
averaged over an epoch); --weight-tol: ||a - b|| / ||a|| over
all parameters together (the running statistics are printed, not judged). --expect-differ inverts
the verdict (a control run that must not match).
"""
import argparse
import csv
import sys

import torch


def losses(folder):
    with open(f"{folder}/metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return [(int(r["epoch"]), float(r["train_loss"]), float(r["val_loss"])) for r in rows]


def tensors(folder):
    m = torch.jit.load(f"{folder}/last.pt", map_location="cpu")
    out = {}
    for name, t in list(m.named_parameters()) + list(m.named_buffers()):
        if name.startswith(("backbone.", "head.")) and t.is_floating_point():
            out[name] = t.detach().double()
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--loss-tol", type=float, required=True)
    p.add_argument("--val-loss-tol", type=float, default=None)
    p.add_argument("--weight-tol", type=float, required=True)
    p.add_argument("--expect-differ", action="store_true")
    o = p.parse_args()

    la, lb = losses(o.a), losses(o.b)
    if [e for e, _, _ in la] != [e for e, _, _ in lb] or not la:
        print(f"compare_runs: the runs recorded different epochs: {[e for e, *_ in la]} vs {[e for e, *_ in lb]}")
        return 2
    val_tol = o.loss_tol if o.val_loss_tol is None else o.val_loss_tol
    loss_diff = val_diff = 0.0
    for (e, ta, va), (_, tb, vb) in zip(la, lb):
        print(f"epoch {e}: train_loss {ta:.6f} vs {tb:.6f}, val_loss {va:.6f} vs {vb:.6f}")
        loss_diff = max(loss_diff, abs(ta - tb) / max(abs(ta), 1e-12))
        val_diff = max(val_diff, abs(va - vb) / max(abs(va), 1e-12))

    ta, tb = tensors(o.a), tensors(o.b)
    if ta.keys() != tb.keys() or not ta:
        print(f"compare_runs: the checkpoints hold different tensors ({len(ta)} vs {len(tb)})")
        return 2
    def relative(keys):
        num = sum(((ta[k] - tb[k]) ** 2).sum().item() for k in keys)
        den = sum((ta[k] ** 2).sum().item() for k in keys)
        return (num / den) ** 0.5 if den > 0 else float(num > 0)

    params = [k for k in ta if "running_" not in k]
    weight_diff = relative(params)
    stats = {s: relative([k for k in ta if k.endswith(s)]) for s in ("running_mean", "running_var")}
    print(f"largest relative train loss difference {loss_diff:.3g} (tolerance {o.loss_tol}), val loss {val_diff:.3g} "
          f"(tolerance {val_tol}); relative parameter difference "
          f"{weight_diff:.3g} (tolerance {o.weight_tol}); running_mean {stats['running_mean']:.3g}, running_var "
          f"{stats['running_var']:.3g}")
    same = loss_diff <= o.loss_tol and val_diff <= val_tol and weight_diff <= o.weight_tol
    if o.expect_differ:
        print("the control differs, as it must" if not same else "compare_runs: the control run matched: the check proves nothing")
        return 0 if not same else 1
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())

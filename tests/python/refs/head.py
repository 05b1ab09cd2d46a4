"""The blog's classifier head in PyTorch: its state-dict keys and shapes, for ftmeta's Head<...>.

Writes head/keys.txt: one `key<TAB>shape` line per entry of the Python module's state_dict, where
the module is the blog's `nn.Sequential(BatchNorm1d, Dropout, Linear, BatchNorm1d, ELU, Dropout,
Linear)` on 1280 EfficientNet-Lite0 features with 512 hidden units and 7 classes.
"""
import pathlib

import torch.nn as nn


def make(out: pathlib.Path) -> None:
    features, hidden, classes = 1280, 512, 7
    head = nn.Sequential(
        nn.BatchNorm1d(features),
        nn.Dropout(0.5),
        nn.Linear(features, hidden),
        nn.BatchNorm1d(hidden),
        nn.ELU(inplace=True),
        nn.Dropout(0.5),
        nn.Linear(hidden, classes),
    )
    lines = [f"{k}\t{'x'.join(str(d) for d in v.shape)}" for k, v in head.state_dict().items()]
    (out / "keys.txt").write_text("\n".join(lines) + "\n")

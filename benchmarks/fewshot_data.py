"""Writes the few-shot folders of docs/results.md: N images per class drawn (seeded) from the
Fashion-MNIST training set, split per class into train/ (90%) and val/ (10%, at least one), and the
whole test set (10,000 images) in test/, as 28x28 grey PNGs in an ImageFolder tree whose class
folders carry ftmeta's Fashion-MNIST names. Every method of the comparison (ftmeta, the linear probe,
fastai) reads the same tree: it fits on train/, selects on val/ and is scored on test/.

Usage: fewshot_data.py OUT_DIR --per-class N [--seed S] [--fashion-mnist DIR]
"""
import argparse
import gzip
import pathlib

import numpy as np
from PIL import Image

CLASSES = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def write(root, split, images, labels, indices):
    for i in indices:
        folder = root / split / CLASSES[labels[i]]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(images[i]).save(folder / f"{i:05d}.png")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--per-class", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fashion-mnist", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    src, root = pathlib.Path(a.fashion_mnist), pathlib.Path(a.out)
    stamp = root / ".fewshot"
    key = f"per_class {a.per_class} seed {a.seed}\n"
    if stamp.exists() and stamp.read_text() == key:
        print(f"fewshot_data: {root} already holds {key.strip()}")
        return
    if root.exists() and any(root.iterdir()):
        raise SystemExit(f"fewshot_data: {root} exists and holds something else; remove it first")
    images, labels = read_idx(src / "train-images-idx3-ubyte.gz"), read_idx(src / "train-labels-idx1-ubyte.gz")
    rng = np.random.default_rng(a.seed)
    train, val = [], []
    for c in range(len(CLASSES)):
        drawn = rng.permutation(np.flatnonzero(labels == c))[: a.per_class]
        n_val = max(1, round(0.1 * len(drawn)))
        val += drawn[:n_val].tolist()
        train += drawn[n_val:].tolist()
    write(root, "train", images, labels, train)
    write(root, "val", images, labels, val)
    test_images, test_labels = read_idx(src / "t10k-images-idx3-ubyte.gz"), read_idx(src / "t10k-labels-idx1-ubyte.gz")
    write(root, "test", test_images, test_labels, range(len(test_labels)))
    stamp.write_text(key)
    print(f"fewshot_data: {root}: {len(train)} train / {len(val)} val / {len(test_labels)} test images")


if __name__ == "__main__":
    main()

"""The blog's fine-tuning recipe written the classic PyTorch way, as the Python baseline that
docs/results.md compares ftmeta against: torchvision ImageFolder + transforms + DataLoader, the MLP
head on global-average-pooled EfficientNet-Lite0 features, SGD with two parameter groups.

It trains on the same ImageFolder tree that examples/finetune exports (DIR/train, DIR/test), with the
same input size, batch size, split ratio (10% of train per class held out for validation), learning
rates and augmentation as examples/recipe.hpp, and prints one line per epoch and the test accuracy.

Usage: python_baseline.py DIR [--epochs N] [--image-size S] [--batch-size B] [--workers W]
                          [--threads T] [--seed N] [--no-pretrained]
"""
import argparse
import importlib.util
import pathlib
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms

HERE = pathlib.Path(__file__).resolve().parent


def load_lite0_module():
    """The Lite0 definition of the test references, with TF SAME padding done the way a tuned PyTorch
    port does it (and ftmeta does): the convolution pads by itself when the padding is symmetric,
    so only stride-2 layers pay for an explicit pad."""
    spec = importlib.util.spec_from_file_location("lite0_ref", HERE.parent / "tests/python/refs/lite0.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def forward(self, x):
        k, s = self.kernel_size[0], self.stride[0]
        pads = []
        for size in (x.shape[-1], x.shape[-2]):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        if pads[0] == pads[1] and pads[2] == pads[3]:
            return F.conv2d(x, self.weight, None, self.stride, (pads[2], pads[0]), 1, self.groups)
        return F.conv2d(F.pad(x, pads), self.weight, None, self.stride, 0, 1, self.groups)

    module.SameConv.forward = forward
    return module


class Net(nn.Module):
    """The blog's model_bn: backbone features, global average pooling, the MLP head."""

    def __init__(self, backbone, classes, feature_size=512):
        super().__init__()
        self.features = backbone
        self.classifier = nn.Sequential(
            nn.BatchNorm1d(1280), nn.Dropout(0.5), nn.Linear(1280, feature_size),
            nn.BatchNorm1d(feature_size), nn.ELU(inplace=True), nn.Dropout(0.5),
            nn.Linear(feature_size, classes))

    def forward(self, x):
        x = self.features.features(x)
        x = F.avg_pool2d(x, kernel_size=x.size()[2:]).view(x.size(0), -1)
        return self.classifier(x)


def stratified_val(targets, fraction, seed):
    g = torch.Generator().manual_seed(seed)
    by_class = {}
    for i, t in enumerate(targets):
        by_class.setdefault(t, []).append(i)
    train, val = [], []
    for idx in by_class.values():
        perm = torch.randperm(len(idx), generator=g).tolist()
        n_val = round(len(idx) * fraction)
        val += [idx[p] for p in perm[:n_val]]
        train += [idx[p] for p in perm[n_val:]]
    return sorted(train), sorted(val)


def run_epoch(model, loader, optimizer=None, memory_format=torch.contiguous_format):
    training = optimizer is not None
    model.train(training)
    total, correct, loss_sum = 0, 0, 0.0
    t0 = time.time()
    with torch.set_grad_enabled(training):
        for images, labels in loader:
            logits = model(images.contiguous(memory_format=memory_format))
            loss = F.cross_entropy(logits, labels)
            if training:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            total += labels.size(0)
            correct += (logits.argmax(1) == labels).sum().item()
            loss_sum += loss.item() * labels.size(0)
    return loss_sum / max(total, 1), correct / max(total, 1), time.time() - t0, total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-pretrained", action="store_true")
    ap.add_argument("--channels-last", action="store_true", help="NHWC weights and inputs (torch.channels_last)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    lite0 = load_lite0_module()
    norm = transforms.Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])
    train_tf = transforms.Compose([transforms.RandomResizedCrop(a.image_size), transforms.RandomHorizontalFlip(),
                                   transforms.ToTensor(), norm])
    eval_tf = transforms.Compose([transforms.Resize(a.image_size), transforms.CenterCrop(a.image_size),
                                  transforms.ToTensor(), norm])
    root = pathlib.Path(a.data)
    train_all = datasets.ImageFolder(root / "train", train_tf)
    eval_all = datasets.ImageFolder(root / "train", eval_tf)
    test_set = datasets.ImageFolder(root / "test", eval_tf)
    train_idx, val_idx = stratified_val(train_all.targets, 0.1, a.seed)
    loader = lambda ds, shuffle, drop: DataLoader(ds, batch_size=a.batch_size, shuffle=shuffle, drop_last=drop,
                                                  num_workers=a.workers, persistent_workers=a.workers > 0)
    train_loader = loader(Subset(train_all, train_idx), True, True)
    val_loader = loader(Subset(eval_all, val_idx), False, False)
    test_loader = loader(test_set, False, False)

    backbone = lite0.Lite0(num_classes=0)
    if not a.no_pretrained:
        state = torch.load(lite0.weights_path(), map_location="cpu", weights_only=True)
        backbone.load_state_dict({k: v for k, v in state.items() if not k.startswith("_fc.")})
    model = Net(backbone, len(train_all.classes))
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    optimizer = torch.optim.SGD([{"params": model.features.parameters()},
                                 {"params": model.classifier.parameters(), "lr": 1e-3}], lr=1e-2, momentum=0.9)
    print(f"python baseline: torch {torch.__version__}, {len(train_idx)} train / {len(val_idx)} val / "
          f"{len(test_set)} test, {torch.get_num_threads()} threads, {a.workers} workers, "
          f"{'channels_last' if a.channels_last else 'contiguous (NCHW)'}", flush=True)
    best, best_state = -1.0, None
    for epoch in range(1, a.epochs + 1):
        tl, ta, secs, n = run_epoch(model, train_loader, optimizer, fmt)
        vl, va, _, _ = run_epoch(model, val_loader, memory_format=fmt)
        print(f"epoch {epoch}/{a.epochs}  train loss {tl:.4f} acc {ta:.4f}  val loss {vl:.4f} acc {va:.4f}  "
              f"{n / secs:.1f} img/s, {secs:.1f} s", flush=True)
        if va > best:
            best, best_state = va, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    loss, acc, _, n = run_epoch(model, test_loader, memory_format=fmt)
    print(f"test accuracy: {acc:.4f} ({n} images, loss {loss:.4f})", flush=True)


if __name__ == "__main__":
    main()

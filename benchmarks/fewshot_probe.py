"""The linear probe of docs/results.md's few-shot table: logistic regression (scikit-learn) on the
frozen ImageNet-pretrained EfficientNet-Lite0's global-average-pooled features, no augmentation.

It reads a tree written by fewshot_data.py (train/, val/, test/), embeds every image once with the
evaluation preprocessing ftmeta uses for these weights (resize to the input size, centre crop,
[-1, 1] normalization), standardizes the features, picks the inverse regularization C on val/ from a
small grid, fits on train/ and prints the test accuracy and the wall time of the whole program.

Usage: fewshot_probe.py DIR [--image-size 64] [--threads N]
"""
import argparse
import pathlib
import sys
import time

T0 = time.time()
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from torchvision import datasets, transforms  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from python_baseline import load_lite0_module  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    lite0 = load_lite0_module()
    model = lite0.Lite0(num_classes=0)
    state = torch.load(lite0.weights_path(), map_location="cpu", weights_only=True)
    model.load_state_dict({k: v for k, v in state.items() if not k.startswith("_fc.")})
    model.eval()
    tf = transforms.Compose([transforms.Resize(a.image_size), transforms.CenterCrop(a.image_size), transforms.ToTensor(),
                             transforms.Normalize([0.5] * 3, [0.5] * 3)])
    root = pathlib.Path(a.data)

    def embed(split):
        ds = datasets.ImageFolder(root / split, tf)
        loader = torch.utils.data.DataLoader(ds, batch_size=256, num_workers=0)
        feats, labels = [], []
        with torch.no_grad():
            for x, y in loader:
                feats.append(model.features(x).mean((2, 3)).numpy())
                labels.append(y.numpy())
        return np.concatenate(feats), np.concatenate(labels)

    (xtr, ytr), (xva, yva), (xte, yte) = embed("train"), embed("val"), embed("test")
    scaler = StandardScaler().fit(xtr)
    xtr, xva, xte = scaler.transform(xtr), scaler.transform(xva), scaler.transform(xte)
    best = None
    for c in (0.001, 0.01, 0.1, 1.0, 10.0):
        clf = LogisticRegression(C=c, max_iter=2000).fit(xtr, ytr)
        va = clf.score(xva, yva)
        if best is None or va > best[0]:
            best = (va, c, clf)
    va, c, clf = best
    print(f"linear probe: {len(ytr)} train / {len(yva)} val / {len(yte)} test, C {c} (val acc {va:.4f}), "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"test accuracy: {clf.score(xte, yte):.4f}")
    print(f"total time {time.time() - T0:.1f} s")


if __name__ == "__main__":
    main()

"""fastai's fine_tune on the few-shot trees of docs/results.md, as a fastai user would write it with
the same backbone: the ImageNet-pretrained EfficientNet-Lite0 body (its classifier removed), fastai's
create_head (concat pooling, BatchNorm, dropout, two linear layers) initialized as vision_learner does,
aug_transforms, the body and head as two parameter groups, and Learner.fine_tune(EPOCHS) with its
defaults (one frozen epoch, base_lr 2e-3, one-cycle). Normalization is these weights' own ([-1, 1]).

It reads a tree written by fewshot_data.py (fits on train/, validates on val/), then predicts the
whole test/ folder and prints the test accuracy and the wall time of the whole program (imports included).
fastai is pinned in benchmarks/requirements-fewshot.txt only; ftmeta never uses it.

Usage: fewshot_fastai.py DIR [--epochs 10] [--image-size 64] [--batch-size 64] [--threads N] [--seed 0]
"""
import argparse
import pathlib
import sys
import time

T0 = time.time()
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from fastai.vision.all import (CrossEntropyLossFlat, ImageDataLoaders, Learner, Normalize, Resize, accuracy,  # noqa: E402
                               apply_init, aug_transforms, create_head, get_image_files, params, set_seed)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from python_baseline import load_lite0_module  # noqa: E402


class Body(nn.Module):
    """The Lite0 feature extractor: images to the last feature map (fastai's `body`)."""

    def __init__(self, lite0):
        super().__init__()
        self.net = lite0

    def forward(self, x):
        return self.net.features(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    set_seed(a.seed, reproducible=True)
    root = pathlib.Path(a.data)
    dls = ImageDataLoaders.from_folder(root, train="train", valid="val", item_tfms=Resize(a.image_size),
                                       batch_tfms=[*aug_transforms(size=a.image_size), Normalize.from_stats([0.5] * 3, [0.5] * 3)],
                                       bs=min(a.batch_size, len(get_image_files(root / "train"))), num_workers=0,
                                       device=torch.device("cpu"))
    lite0 = load_lite0_module()
    backbone = lite0.Lite0(num_classes=0)
    state = torch.load(lite0.weights_path(), map_location="cpu", weights_only=True)
    backbone.load_state_dict({k: v for k, v in state.items() if not k.startswith("_fc.")})
    head = create_head(1280, dls.c)
    apply_init(head, nn.init.kaiming_normal_)
    model = nn.Sequential(Body(backbone), head)
    learn = Learner(dls, model, loss_func=CrossEntropyLossFlat(), metrics=accuracy,
                    splitter=lambda m: [params(m[0]), params(m[1])])
    with learn.no_bar():
        learn.fine_tune(a.epochs)
        test_files = get_image_files(root / "test")
        test_dl = learn.dls.test_dl(test_files, with_labels=True)
        preds, targets = learn.get_preds(dl=test_dl)
    acc = (preds.argmax(1) == targets).float().mean().item()
    print(f"fastai fine_tune({a.epochs}): {len(dls.train_ds)} train / {len(dls.valid_ds)} val / {len(test_files)} test, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"test accuracy: {acc:.4f}")
    print(f"total time {time.time() - T0:.1f} s")


if __name__ == "__main__":
    main()

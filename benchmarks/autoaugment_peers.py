"""torchvision's TrivialAugmentWide on the photos bench_autoaugment uses (PIL input, one thread).

Prints "name ms_per_image" lines like bench_autoaugment: the chain RandomResizedCrop(224), horizontal
flip, (TrivialAugmentWide), ToTensor, Normalize on PIL images, and each op alone on 224 x 224 crops
at bin 15 of 31, as the code a user writes runs it.
Usage: autoaugment_peers.py [PASSES (2)]
"""
import pathlib
import sys
import time

import torch
import torchvision.transforms as T
from torchvision.transforms.autoaugment import _apply_op
from PIL import Image


def corpus():
    paths = []
    for d in ("nature", "abstract", "desktop"):
        root = pathlib.Path("/usr/share/backgrounds/mate") / d
        if root.exists():
            paths += sorted(p for p in root.iterdir() if p.suffix == ".jpg")
    images = []
    for p in sorted(paths, key=str):
        full = Image.open(p).convert("RGB")
        s = 375.0 / min(full.size)
        small = full.resize((round(full.width * s), round(full.height * s)), Image.BOX)
        w, h = (500, 375) if small.width >= small.height else (375, 500)
        w, h = min(w, small.width), min(h, small.height)
        left, top = (small.width - w) // 2, (small.height - h) // 2
        images.append(small.crop((left, top, left + w, top + h)))
    return images


def per_image(images, passes, f):
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(passes):
            for im in images:
                f(im)
        best = min(best, (time.perf_counter() - t0) * 1e3 / (passes * len(images)))
    return best


def main():
    torch.set_num_threads(1)
    passes = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    images = corpus()
    norm = T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    plain = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(), norm])
    wide = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.TrivialAugmentWide(), T.ToTensor(), norm])
    print(f"{'torchvision RRC+HFlip+ToTensor+Normalize':44s} {per_image(images, passes, plain):8.4f}")
    print(f"{'torchvision ... + TrivialAugmentWide':44s} {per_image(images, passes, wide):8.4f}")
    crops = [im.crop((0, 0, min(im.size), min(im.size))).resize((224, 224), Image.BOX) for im in images]
    space = T.TrivialAugmentWide()._augmentation_space(31)
    for name, (magnitudes, _signed) in space.items():
        m = float(magnitudes[15].item()) if magnitudes.ndim > 0 else 0.0
        ms = per_image(crops, passes * 4, lambda im: _apply_op(im, name, m, T.InterpolationMode.NEAREST, None))
        print(f"{'op ' + name + ' (224x224)':44s} {ms:8.4f}")


if __name__ == "__main__":
    main()

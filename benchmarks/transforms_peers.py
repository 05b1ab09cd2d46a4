"""Python peers of bench_transforms: torchvision (PIL input, the code a user writes) and albumentations
(numpy input), the same chain, one thread, on the same corpus built the same way. Prints
"name ms_per_image" lines. Run by benchmarks/run_transforms.sh."""
import os
import pathlib
import sys
import time

import cv2
import numpy as np
import torch
import torchvision
import torchvision.transforms as T
from PIL import Image

import albumentations as A
from albumentations.pytorch import ToTensorV2

IMAGENET = dict(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])


def corpus():
    """The JPEGs under FTMETA_BENCH_CORPUS (class subfolders allowed) decoded as found (PIL, convert("RGB"):
    ftmeta's decode rule); unset, the mate-backgrounds photos cut to 500x375 as bench_transforms does."""
    root = os.environ.get("FTMETA_BENCH_CORPUS")
    if root:
        paths = sorted(str(p) for p in pathlib.Path(root).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg") and p.is_file())
        return [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    paths = []
    for d in ["nature", "abstract", "desktop"]:
        paths += sorted(str(p) for p in (pathlib.Path("/usr/share/backgrounds/mate") / d).glob("*.jpg"))
    paths.sort()
    images = []
    for p in paths:
        full = cv2.imread(p, cv2.IMREAD_COLOR)
        if full is None:
            continue
        s = 375.0 / min(full.shape[:2])
        small = cv2.resize(full, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        h, w = small.shape[:2]
        cw, ch = (500, 375) if w >= h else (375, 500)
        cw, ch = min(cw, w), min(ch, h)
        x, y = (w - cw) // 2, (h - ch) // 2
        images.append(np.ascontiguousarray(cv2.cvtColor(small[y:y + ch, x:x + cw], cv2.COLOR_BGR2RGB)))
    return images


# Wall-clock, or with FTMETA_BENCH_CLOCK=cpu this thread's CPU time (as bench_transforms).
CLOCK = time.thread_time if os.environ.get("FTMETA_BENCH_CLOCK") == "cpu" else time.perf_counter


def time_per_image(inputs, passes, f, rounds=3):
    best = float("inf")
    for _ in range(rounds):
        t0 = CLOCK()
        for _ in range(passes):
            for x in inputs:
                f(x)
        best = min(best, (CLOCK() - t0) * 1000 / (passes * len(inputs)))
    return best


def main():
    passes = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    torch.set_num_threads(1)
    cv2.setNumThreads(0)
    torch.manual_seed(0)
    images = corpus()
    pil = [Image.fromarray(x) for x in images]
    jitter = dict(brightness=0.05, contrast=0.05, saturation=0.05, hue=0.05)
    tv = {
        "classic": T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.RandomVerticalFlip(),
                              T.RandomRotation(10), T.ColorJitter(**jitter), T.ToTensor(), T.Normalize(**IMAGENET)]),
        "norot": T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.RandomVerticalFlip(),
                            T.ColorJitter(**jitter), T.ToTensor(), T.Normalize(**IMAGENET)]),
    }
    al = {
        "classic": A.Compose([A.RandomResizedCrop(size=(224, 224)), A.HorizontalFlip(), A.VerticalFlip(),
                              A.Rotate(limit=10, border_mode=cv2.BORDER_CONSTANT, fill=0, p=1.0),
                              A.ColorJitter(**jitter, p=1.0), A.Normalize(**IMAGENET), ToTensorV2()]),
        "norot": A.Compose([A.RandomResizedCrop(size=(224, 224)), A.HorizontalFlip(), A.VerticalFlip(),
                            A.ColorJitter(**jitter, p=1.0), A.Normalize(**IMAGENET), ToTensorV2()]),
    }
    print(f"# torch {torch.__version__}, torchvision {torchvision.__version__}, albumentations {A.__version__}, "
          f"opencv-python {cv2.__version__}, pillow {Image.__version__}, numpy {np.__version__}")
    canonical_tv = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(**IMAGENET)])
    canonical_al = A.Compose([A.RandomResizedCrop(size=(224, 224)), A.HorizontalFlip(), A.Normalize(**IMAGENET), ToTensorV2()])
    crop = T.RandomResizedCrop(224)

    def pil_resize_crop(img):  # PIL's antialiased resize alone, of a crop drawn as RandomResizedCrop draws it
        i, j, h, w = crop.get_params(img, crop.scale, crop.ratio)
        return img.resize((224, 224), Image.BILINEAR, box=(j, i, j + w, i + h))

    print(f"torchvision_canonical {time_per_image(pil, passes, canonical_tv):.4f}")
    print(f"albumentations_canonical {time_per_image(images, passes, lambda x: canonical_al(image=x)['image']):.4f}")
    print(f"pil_resize_crop {time_per_image(pil, passes, pil_resize_crop):.4f}")
    print(f"torchvision {time_per_image(pil, passes, tv['classic']):.4f}")
    print(f"albumentations {time_per_image(images, passes, lambda x: al['classic'](image=x)['image']):.4f}")
    print(f"torchvision_norot {time_per_image(pil, passes, tv['norot']):.4f}")
    print(f"albumentations_norot {time_per_image(images, passes, lambda x: al['norot'](image=x)['image']):.4f}")


if __name__ == "__main__":
    main()

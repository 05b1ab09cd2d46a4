"""Python peer of bench_loader: torchvision's ImageFolder + the same classic chain + DataLoader with
1 and 2 worker processes (persistent, so worker start-up is not timed), ready batches per second.
Also builds the corpus both read (--make-corpus). Run by benchmarks/run_loader.sh.

Usage: loader.py --make-corpus DIR [PER_IMAGE (12)]
       loader.py CORPUS_DIR [EPOCHS (2)] [BATCH (32)] [WORKERS... (1 2)]
"""
import os
import pathlib
import random
import sys
import time

import torch
import torchvision
import torchvision.transforms as T
from PIL import Image

IMAGENET = dict(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
MATE = pathlib.Path("/usr/share/backgrounds/mate")


def make_corpus(out: pathlib.Path, per_image: int) -> None:
    """ImageNet-like JPEGs: from each mate-backgrounds JPEG, `per_image` seeded crops of 4:3 (or 3:4)
    shape and 40-100% of the shorter side, resized to 500x375 (375x500), quality 90; one class per
    mate folder (nature, abstract, desktop)."""
    rng = random.Random(0)
    n = 0
    for d in ["abstract", "desktop", "nature"]:
        for p in sorted((MATE / d).glob("*.jpg")):
            with Image.open(p) as im:
                im = im.convert("RGB")
                w, h = im.size
                for k in range(per_image):
                    landscape = k % 4 != 3
                    ow, oh = (500, 375) if landscape else (375, 500)
                    side = rng.uniform(0.4, 1.0) * min(w, h)
                    cw, ch = (side * 4 / 3, side) if landscape else (side * 3 / 4, side)
                    cw, ch = min(cw, w), min(ch, h)
                    x, y = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
                    crop = im.resize((ow, oh), Image.BILINEAR, box=(x, y, x + cw, y + ch), reducing_gap=3.0)
                    target = out / d / f"{p.stem}_{k:02d}.jpg"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    crop.save(target, quality=90)
                    n += 1
    print(f"# corpus: {n} JPEGs written to {out}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (a DataLoader worker), from /proc."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    if sys.argv[1] == "--make-corpus":
        make_corpus(pathlib.Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 12)
        return 0
    root = sys.argv[1]
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    workers = [int(w) for w in sys.argv[4:]] or [1, 2]
    torch.set_num_threads(1)
    jitter = dict(brightness=0.05, contrast=0.05, saturation=0.05, hue=0.05)
    chain = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.RandomVerticalFlip(),
                       T.RandomRotation(10), T.ColorJitter(**jitter), T.ToTensor(), T.Normalize(**IMAGENET)])
    data = torchvision.datasets.ImageFolder(root, transform=chain)
    print(f"# torch {torch.__version__}, torchvision {torchvision.__version__}, pillow {Image.__version__}; "
          f"{len(data)} images, batch {batch}, {epochs} timed epochs after one warm-up")
    for w in workers:
        loader = torch.utils.data.DataLoader(data, batch_size=batch, shuffle=True, drop_last=True, num_workers=w,
                                             persistent_workers=True, prefetch_factor=2)
        for _ in loader:  # warm-up: starts the workers
            pass
        pids = [p.pid for p in loader._iterator._workers]
        images = 0
        c0 = time.process_time() + sum(cpu_seconds(p) for p in pids)
        t0 = time.perf_counter()
        for _ in range(epochs):
            for x, _y in loader:
                images += x.shape[0]
        s = time.perf_counter() - t0
        cpu = time.process_time() + sum(cpu_seconds(p) for p in pids) - c0
        print(f"torch_workers_{w} {images / s:.2f}")
        print(f"torch_workers_{w}_cpu {images / cpu:.2f}")
        print(f"# torch {w} workers: {images} images in {s:.2f} s, {cpu:.2f} CPU s (main process and workers)")
        del loader
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""References for TrivialAugmentWide and RandAugment: torchvision's run on PIL images of real photos.

Inputs: two photos reduced with PIL and saved as PNG (both sides decode identical pixels), and a square
crop of one (Image.rotate transposes square images at 90 and 270 degrees). Outputs (.npy): the
augmentation space of TrivialAugmentWide for several bin counts (NaN where an op has no bins), the cases
(op index, bin, negated, signed magnitude, fill) and, per photo and case, the uint8 CHW result of
torchvision.transforms.autoaugment._apply_op(img, op, magnitude, NEAREST, fill) as the forward calls it.
Whole forwards too: T.TrivialAugmentWide() and T.RandAugment(...) under torch.manual_seed(s), with the draws
that seed makes (replayed: the same torch.randint calls in the same order), so a test can run the same
draws and compare whole results; and RandAugment's space at each photo's size.
"""
import pathlib

import numpy as np
import torch
import torchvision.transforms as T
from torchvision.transforms.autoaugment import _apply_op
from PIL import Image

ROOT = pathlib.Path("/usr/share/backgrounds/mate/nature")
PHOTOS = ["Aqua.jpg", "Storm.jpg"]
BINS = [31, 10, 2]
PICKED = [1, 8, 15, 20, 30]  # bins checked per op (of 31), each with both signs where the op is signed


def chw(pil_image):
    return np.ascontiguousarray(np.asarray(pil_image.convert("RGB")).transpose(2, 0, 1))


def make(out: pathlib.Path) -> None:
    for n in BINS:
        space = T.TrivialAugmentWide(num_magnitude_bins=n)._augmentation_space(n)
        table = np.full((len(space), n), np.nan, dtype=np.float64)
        for i, (magnitudes, _signed) in enumerate(space.values()):
            if magnitudes.ndim > 0:
                table[i, :] = [float(v) for v in magnitudes]
        np.save(out / f"space{n}.npy", table)

    space = T.TrivialAugmentWide()._augmentation_space(31)
    cases = []
    for i, (name, (magnitudes, signed)) in enumerate(space.items()):
        if magnitudes.ndim == 0:
            cases.append([i, 0, 0, 0.0, 0])
            continue
        for b in PICKED:
            m = float(magnitudes[b].item())
            cases.append([i, b, 0, m, 0])
            if signed:
                cases.append([i, b, 1, -m, 0])
        if name in ("ShearX", "Rotate", "TranslateY"):
            cases.append([i, 20, 1, -float(magnitudes[20].item()), 128])  # a grey fill
    np.save(out / "cases.npy", np.array(cases, dtype=np.float64))

    names = list(space.keys())
    images = []
    for k, name in enumerate(PHOTOS):
        img = Image.open(ROOT / name).convert("RGB")
        img = img.resize((320, round(320 * img.height / img.width)), Image.BILINEAR)
        images.append(img)
    images.append(images[0].crop((40, 10, 240, 210)))  # square: rotations by 90 and 270 transpose
    for k, img in enumerate(images):
        img.save(out / f"photo{k}.png")
        img = Image.open(out / f"photo{k}.png").convert("RGB")
        for c, (i, _b, _neg, m, fill) in enumerate(cases):
            result = _apply_op(img, names[int(i)], m, interpolation=T.InterpolationMode.NEAREST,
                               fill=[int(fill)] * 3 if fill else None)
            np.save(out / f"photo{k}_case{c}.npy", chw(result))

    make_forwards(out, names, len(images))


FORWARD_SEEDS = 24
# (num_ops, magnitude, num_magnitude_bins, fill): the default, and a stronger one with a grey fill
RAND = [(2, 9, 31, None), (3, 25, 31, 128)]


def replay(seed, space, names, num_ops, fixed_bin):
    """The draws torchvision's forward makes after torch.manual_seed(seed): (op, bin, negated) per op."""
    torch.manual_seed(seed)
    draws = []
    for _ in range(num_ops):
        op = int(torch.randint(len(names), (1,)).item())
        magnitudes, signed = space[names[op]]
        b = 0
        if magnitudes.ndim > 0:
            b = fixed_bin if fixed_bin is not None else int(torch.randint(len(magnitudes), (1,), dtype=torch.long).item())
        negated = bool(torch.randint(2, (1,))) if signed else False
        draws.append([op, b, int(negated)])
    return draws


def make_forwards(out: pathlib.Path, names, photo_count) -> None:
    wide = T.TrivialAugmentWide()
    space = wide._augmentation_space(31)
    np.save(out / "wide_draws.npy", np.array([replay(s, space, names, 1, None)[0] for s in range(FORWARD_SEEDS)], dtype=np.int64))
    for r, (num_ops, magnitude, bins, fill) in enumerate(RAND):
        rand = T.RandAugment(num_ops, magnitude, bins, fill=[fill] * 3 if fill else None)
        rspace = rand._augmentation_space(bins, (100, 100))  # which ops have bins and signs: size-independent
        np.save(out / f"rand{r}_draws.npy",
                np.array([replay(s, rspace, names, num_ops, magnitude) for s in range(FORWARD_SEEDS)], dtype=np.int64))
    for k in range(photo_count):
        img = Image.open(out / f"photo{k}.png").convert("RGB")
        for r, (num_ops, magnitude, bins, fill) in enumerate(RAND):
            rspace = T.RandAugment(num_ops, magnitude, bins)._augmentation_space(bins, (img.height, img.width))
            table = np.full((len(rspace), bins), np.nan, dtype=np.float64)
            for i, (magnitudes, _signed) in enumerate(rspace.values()):
                if magnitudes.ndim > 0:
                    table[i, :] = [float(v) for v in magnitudes]
            np.save(out / f"photo{k}_rand{r}_space.npy", table)
        for s in range(FORWARD_SEEDS):
            torch.manual_seed(s)
            np.save(out / f"photo{k}_wide{s}.npy", chw(wide(img)))
            for r, (num_ops, magnitude, bins, fill) in enumerate(RAND):
                rand = T.RandAugment(num_ops, magnitude, bins, fill=[fill] * 3 if fill else None)
                torch.manual_seed(s)
                np.save(out / f"photo{k}_rand{r}_{s}.npy", chw(rand(img)))

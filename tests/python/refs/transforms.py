"""References for the transforms area: torchvision run on PIL images of the PNGs the C++ tests read.

Inputs are real photos, reduced with PIL and saved as PNG, so both sides decode identical pixels.
Outputs (.npy): ToTensor+Normalize, Resize(256)+CenterCrop(224) pixels, flips, Resize output sizes,
CenterCrop offsets, and many RandomResizedCrop.get_params draws for the statistical test.
"""
import pathlib

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image

ROOT = pathlib.Path("/usr/share/backgrounds/mate/nature")
# (file, crop box applied after reducing to 640 px wide, or None): landscape, portrait, landscape.
PHOTOS = [("Aqua.jpg", None), ("LadyBird.jpg", (170, 0, 470, 400)), ("Storm.jpg", None)]
IMAGENET = dict(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
RRC_SIZES = [(400, 640), (400, 300), (100, 1000), (512, 512)]  # (height, width)
RRC_DRAWS = 20000


def chw(pil_image):
    return np.ascontiguousarray(np.asarray(pil_image).transpose(2, 0, 1))


def make(out: pathlib.Path) -> None:
    for k, (name, box) in enumerate(PHOTOS):
        img = Image.open(ROOT / name).convert("RGB")
        img = img.resize((640, round(640 * img.height / img.width)), Image.BILINEAR)
        if box is not None:
            img = img.crop(box)
        img.save(out / f"photo{k}.png")
        img = Image.open(out / f"photo{k}.png").convert("RGB")

        normalized = T.Compose([T.ToTensor(), T.Normalize(**IMAGENET)])(img)
        np.save(out / f"photo{k}_to_tensor_normalize.npy", normalized.numpy().astype(np.float32))
        np.save(out / f"photo{k}_resize256_crop224.npy", chw(T.Compose([T.Resize(256), T.CenterCrop(224)])(img)))
        np.save(out / f"photo{k}_resize256.npy", chw(T.Resize(256)(img)))
        np.save(out / f"photo{k}_hflip.npy", chw(F.hflip(img)))
        np.save(out / f"photo{k}_vflip.npy", chw(F.vflip(img)))

    # Resize(256): output sizes for many input sizes (PIL images: the path the tests mirror).
    lengths = [1, 7, 100, 223, 255, 256, 257, 300, 333, 481, 1000]
    rows = []
    for h in lengths:
        for w in lengths:
            resized = T.Resize(256)(Image.new("RGB", (w, h)))
            rows.append([h, w, resized.height, resized.width])
    np.save(out / "resize256_sizes.npy", np.array(rows, dtype=np.int64))

    # CenterCrop: the input pixel at the output's origin (negative where torchvision pads).
    rows = []
    for h in [1, 100, 199, 200, 201, 223, 224, 225, 226, 227, 300, 301]:
        for w in [1, 150, 199, 200, 201, 224, 225, 227, 301]:
            codes = (torch.arange(h * w, dtype=torch.float64) + 1).reshape(1, h, w)
            for ch, cw in [(224, 224), (200, 150)]:
                cropped = F.center_crop(codes, [ch, cw])[0]
                oy, ox = [int(v[0]) for v in torch.nonzero(cropped, as_tuple=True)]
                sy, sx = divmod(int(cropped[oy, ox].item()) - 1, w)
                rows.append([h, w, ch, cw, sy - oy, sx - ox])
    np.save(out / "center_crop_offsets.npy", np.array(rows, dtype=np.int64))

    # RandomResizedCrop.get_params, drawn many times: the distribution the C++ sampler must match.
    torch.manual_seed(0)
    rrc = T.RandomResizedCrop(224)
    for h, w in RRC_SIZES:
        probe = torch.empty(1, h, w)
        boxes = [rrc.get_params(probe, rrc.scale, rrc.ratio) for _ in range(RRC_DRAWS)]
        np.save(out / f"rrc_boxes_{h}x{w}.npy", np.array(boxes, dtype=np.int64))  # (top, left, height, width)
    # Sizes where no try can succeed, so get_params always returns its fallback box.
    rows = []
    for h, w in [(1, 1000), (1000, 10), (3, 500), (700, 5), (2, 2000)]:
        rows.append([h, w, *rrc.get_params(torch.empty(1, h, w), rrc.scale, rrc.ratio)])
    np.save(out / "rrc_fallback.npy", np.array(rows, dtype=np.int64))

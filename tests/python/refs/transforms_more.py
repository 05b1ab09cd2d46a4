"""References for Pad (fill), RandomCrop, RandomAffine, GaussianBlur and RandomErasing: torchvision run on
PIL images (and tensors) of real photos.

Inputs: two photos reduced with PIL and saved as PNG (both sides decode identical pixels). Outputs (.npy):
F.pad with a fill and with the edge, reflect and symmetric modes; F.crop of F.pad at given offsets (RandomCrop's pixels); F.affine (bilinear, fill) at
given parameters; F.gaussian_blur at given kernels and sigmas; F.erase at given boxes; and many draws of
RandomCrop's offsets (its forward's padding, then get_params), RandomAffine.get_params,
GaussianBlur.get_params and RandomErasing.get_params for the statistical tests.
"""
import pathlib

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image

ROOT = pathlib.Path("/usr/share/backgrounds/mate/nature")
PHOTOS = ["Aqua.jpg", "Storm.jpg"]
DRAWS = 20000
# (angle, tx, ty, scale, shear_x, shear_y, fill)
AFFINES = [(0.0, 0, 0, 1.0, 0.0, 0.0, 0), (12.5, 10, -7, 1.0, 0.0, 0.0, 0), (-20.0, -15, 5, 0.85, 8.0, 0.0, 128),
           (5.0, 3, 12, 1.2, -6.0, 4.0, 30), (0.0, 0, 0, 0.7, 0.0, 10.0, 0)]
BLURS = [(3, 0.5), (5, 1.3), (9, 2.0), (23, 4.0)]  # (kernel, sigma)
# (top, left, height, width, value) on the ToTensor image
ERASES = [(10, 20, 50, 80, 0.0), (0, 0, 30, 320, 0.5), (100, 150, 40, 40, -1.25)]
# RandomCrop configurations: (input height, width, crop height, width, padding, pad_if_needed, fill)
CROPS = [(32, 32, 32, 32, 4, False, 0), (50, 100, 64, 64, 0, True, 0), (30, 70, 64, 64, 2, True, 0),
         (200, 300, 96, 128, 0, False, 0), (64, 64, 64, 64, 0, False, 0)]
# RandomCrop pixels: (crop height, width, padding, fill, top, left) with top/left in the padded image
CROP_PIXELS = [(150, 200, 8, 0, 0, 0), (150, 200, 8, 77, 3, 130), (120, 330, 16, 200, 90, 0)]


def chw(pil_image):
    return np.ascontiguousarray(np.asarray(pil_image.convert("RGB")).transpose(2, 0, 1))


def make(out: pathlib.Path) -> None:
    np.save(out / "affines.npy", np.array(AFFINES, dtype=np.float64))
    np.save(out / "blurs.npy", np.array(BLURS, dtype=np.float64))
    np.save(out / "erases.npy", np.array(ERASES, dtype=np.float64))
    np.save(out / "crop_pixels.npy", np.array(CROP_PIXELS, dtype=np.int64))
    for k, name in enumerate(PHOTOS):
        img = Image.open(ROOT / name).convert("RGB")
        img = img.resize((320, round(320 * img.height / img.width)), Image.BILINEAR)
        img.save(out / f"photo{k}.png")
        img = Image.open(out / f"photo{k}.png").convert("RGB")
        np.save(out / f"photo{k}_pad_fill.npy", chw(F.pad(img, [3, 5, 7, 9], fill=128)))
        for mode in ["edge", "reflect", "symmetric"]:
            np.save(out / f"photo{k}_pad_{mode}.npy", chw(F.pad(img, [3, 5, 7, 9], padding_mode=mode)))
        for i, (h, w, pad, fill, top, left) in enumerate(CROP_PIXELS):
            np.save(out / f"photo{k}_crop{i}.npy", chw(F.crop(F.pad(img, pad, fill=fill), top, left, h, w)))
        for i, (angle, tx, ty, scale, sx, sy, fill) in enumerate(AFFINES):
            moved = F.affine(img, angle=angle, translate=[int(tx), int(ty)], scale=scale, shear=[sx, sy],
                             interpolation=T.InterpolationMode.BILINEAR, fill=int(fill))
            np.save(out / f"photo{k}_affine{i}.npy", chw(moved))
        for i, (kernel, sigma) in enumerate(BLURS):
            np.save(out / f"photo{k}_blur{i}.npy", chw(F.gaussian_blur(img, [kernel, kernel], [sigma, sigma])))
        tensor = F.to_tensor(img)
        for i, (top, left, h, w, v) in enumerate(ERASES):
            erased = F.erase(tensor, top, left, h, w, torch.tensor(v, dtype=torch.float32))
            np.save(out / f"photo{k}_erase{i}.npy", erased.numpy().astype(np.float32))

    torch.manual_seed(0)
    # RandomCrop: the offsets its forward draws, as (top, left) in input pixels (padding subtracted).
    rows = []
    for c, (h, w, ch, cw, pad, if_needed, fill) in enumerate(CROPS):
        crop = T.RandomCrop((ch, cw), padding=pad if pad else None, pad_if_needed=if_needed, fill=fill)
        img = torch.zeros(1, h, w)
        if crop.padding is not None:
            img = F.pad(img, crop.padding, crop.fill, crop.padding_mode)
        _, ph, pw = F.get_dimensions(img)
        if crop.pad_if_needed and pw < cw:
            img = F.pad(img, [cw - pw, 0], crop.fill, crop.padding_mode)
        if crop.pad_if_needed and ph < ch:
            img = F.pad(img, [0, ch - ph], crop.fill, crop.padding_mode)
        _, ph, pw = F.get_dimensions(img)
        draws = np.array([crop.get_params(img, (ch, cw))[:2] for _ in range(4000)], dtype=np.int64)
        rows.append([h, w, ch, cw, pad, int(if_needed), ph, pw, draws[:, 0].min(), draws[:, 0].max(),
                     draws[:, 1].min(), draws[:, 1].max()])
        np.save(out / f"crop_draws{c}.npy", draws)
    np.save(out / "crops.npy", np.array(rows, dtype=np.int64))

    # RandomAffine.get_params: (angle, tx, ty, scale, shear_x, shear_y) on a 300 x 200 (w x h) image.
    affine = T.RandomAffine(degrees=15, translate=(0.1, 0.2), scale=(0.8, 1.2), shear=(-5, 5, -3, 3))
    draws = []
    for _ in range(DRAWS):
        angle, (tx, ty), scale, (sx, sy) = affine.get_params(affine.degrees, affine.translate, affine.scale,
                                                             affine.shear, [300, 200])
        draws.append([angle, tx, ty, scale, sx, sy])
    np.save(out / "affine_draws.npy", np.array(draws, dtype=np.float64))

    blur = T.GaussianBlur(5, sigma=(0.3, 2.5))
    np.save(out / "blur_sigmas.npy", np.array([blur.get_params(*blur.sigma) for _ in range(DRAWS)], dtype=np.float64))

    # RandomErasing.get_params with torchvision's defaults: (top, left, h, w); the fallback is (0, 0, H, W).
    erasing = T.RandomErasing()
    for h, w in [(224, 224), (64, 200)]:
        img = torch.zeros(3, h, w)
        boxes = [erasing.get_params(img, erasing.scale, erasing.ratio, [0.0])[:4] for _ in range(DRAWS)]
        np.save(out / f"erase_boxes_{h}x{w}.npy", np.array(boxes, dtype=np.int64))
    # A strip where many tries miss (h must stay under 40): the fallback rate and the boxes to compare.
    img = torch.zeros(3, 40, 400)
    boxes = [erasing.get_params(img, (0.05, 0.2), (0.3, 3.3), [0.0])[:4] for _ in range(DRAWS)]
    np.save(out / "erase_boxes_strip.npy", np.array(boxes, dtype=np.int64))

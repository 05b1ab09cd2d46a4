"""References for ColorJitter and RandomRotation: torchvision run on PIL images of real photos.

Inputs: two photos reduced with PIL and saved as PNG (both sides decode identical pixels). Outputs (.npy,
uint8 CHW): F.adjust_brightness/contrast/saturation/hue at several factors, a chain of the four in a
given order, F.rotate (bilinear, fill) at several angles, F.pad and F.rgb_to_grayscale; and many ColorJitter.get_params and
RandomRotation.get_params draws for the statistical tests.
"""
import pathlib

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image

ROOT = pathlib.Path("/usr/share/backgrounds/mate/nature")
PHOTOS = ["Aqua.jpg", "Storm.jpg"]
FACTORS = [0.0, 0.5, 0.95, 1.05, 1.7]
HUES = [-0.5, -0.3, -0.04, 0.0, 0.02, 0.25, 0.5]
ANGLES = [-10.0, 3.3, 45.0]
DRAWS = 20000


def chw(pil_image):
    return np.ascontiguousarray(np.asarray(pil_image.convert("RGB")).transpose(2, 0, 1))


def make(out: pathlib.Path) -> None:
    factors = np.array(FACTORS, dtype=np.float64)
    np.save(out / "factors.npy", factors)
    np.save(out / "hues.npy", np.array(HUES, dtype=np.float64))
    np.save(out / "angles.npy", np.array(ANGLES, dtype=np.float64))
    for k, name in enumerate(PHOTOS):
        img = Image.open(ROOT / name).convert("RGB")
        img = img.resize((320, round(320 * img.height / img.width)), Image.BILINEAR)
        img.save(out / f"photo{k}.png")
        img = Image.open(out / f"photo{k}.png").convert("RGB")
        for i, f in enumerate(FACTORS):
            np.save(out / f"photo{k}_brightness{i}.npy", chw(F.adjust_brightness(img, f)))
            np.save(out / f"photo{k}_contrast{i}.npy", chw(F.adjust_contrast(img, f)))
            np.save(out / f"photo{k}_saturation{i}.npy", chw(F.adjust_saturation(img, f)))
        for i, h in enumerate(HUES):
            np.save(out / f"photo{k}_hue{i}.npy", chw(F.adjust_hue(img, h)))
        # A ColorJitter draw applied as its forward does: hue, contrast, brightness, saturation.
        chained = F.adjust_saturation(F.adjust_brightness(F.adjust_contrast(F.adjust_hue(img, 0.1), 0.6), 1.3), 1.4)
        np.save(out / f"photo{k}_chain.npy", chw(chained))
        for i, a in enumerate(ANGLES):
            rotated = F.rotate(img, a, interpolation=T.InterpolationMode.BILINEAR, fill=[0, 0, 0] if i != 1 else [128] * 3)
            np.save(out / f"photo{k}_rotate{i}.npy", chw(rotated))
    make_pad_gray(out)

    # ColorJitter.get_params: (order as a permutation code, b, c, s, h) per draw.
    torch.manual_seed(0)
    jitter = T.ColorJitter(0.4, 0.3, 1.5, 0.1)
    rows = []
    for _ in range(DRAWS):
        order, b, c, s, h = jitter.get_params(jitter.brightness, jitter.contrast, jitter.saturation, jitter.hue)
        code = int(order[0]) * 1000 + int(order[1]) * 100 + int(order[2]) * 10 + int(order[3])
        rows.append([code, b, c, s, h])
    np.save(out / "jitter_params.npy", np.array(rows, dtype=np.float64))
    np.save(out / "rotation_angles.npy",
            np.array([T.RandomRotation.get_params([-10.0, 10.0]) for _ in range(DRAWS)], dtype=np.float64))


def make_pad_gray(out: pathlib.Path) -> None:
    """F.pad (constant 0) and F.rgb_to_grayscale(num_output_channels=3) on the same photos; and
    RandomResizedCrop(224, scale=(0.5, 0.9), ratio=(0.5, 2)).get_params drawn on a 400x640 image."""
    torch.manual_seed(1)
    rrc = T.RandomResizedCrop(224, scale=(0.5, 0.9), ratio=(0.5, 2.0))
    probe = torch.empty(1, 400, 640)
    boxes = [rrc.get_params(probe, rrc.scale, rrc.ratio) for _ in range(DRAWS)]
    np.save(out / "rrc_custom_boxes.npy", np.array(boxes, dtype=np.int64))
    for k in range(len(PHOTOS)):
        img = Image.open(out / f"photo{k}.png").convert("RGB")
        np.save(out / f"photo{k}_pad.npy", chw(F.pad(img, [3, 5, 7, 9])))
        np.save(out / f"photo{k}_gray.npy", chw(F.rgb_to_grayscale(img, num_output_channels=3)))

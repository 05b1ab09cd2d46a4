"""References for ftmeta/data's bad-file policy: image files OpenCV cannot write, made with Pillow.

cmyk.jpg: a CMYK JPEG (Adobe-style, as Photoshop writes them) of a small colour gradient, and
cmyk_rgb.npy: what torchvision's loader (PIL's convert("RGB")) decodes it to, HxWx3 uint8.
"""
import pathlib

import numpy as np
from PIL import Image


def make(out: pathlib.Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    h, w = 24, 32
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), np.full_like(x, 128)], axis=-1).astype(np.uint8)
    Image.fromarray(rgb, "RGB").convert("CMYK").save(out / "cmyk.jpg", quality=95)
    with Image.open(out / "cmyk.jpg") as im:
        assert im.mode == "CMYK"
        np.save(out / "cmyk_rgb.npy", np.asarray(im.convert("RGB")))

"""References for the antialiased resample (kernels/antialias.hpp): torchvision's resize of PIL images
(PIL's triangle filter, antialias=True) on real photos, for crops and output sizes that shrink by 1.1x to 6x,
enlarge, and do both at once; and whole pipelines (CenterCrop then Resize, with a flip) as torchvision runs them.

Outputs: photoK.png (the input, saved as PNG so both sides decode identical pixels), boxes.npy (rows: photo,
left, top, width, height, out_height, out_width), box{J}.npy (uint8 RGB CHW), and pipeline{K}_{name}.npy.
"""
import pathlib

import numpy as np
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image

ROOT = pathlib.Path("/usr/share/backgrounds/mate/nature")
PHOTOS = ["Aqua.jpg", "LadyBird.jpg", "Storm.jpg"]
# (left, top, width, height, out_height, out_width) on a 640-wide photo
BOXES = [
    (0, 0, 640, 400, 224, 224),     # whole photo, 2.9x by 1.8x
    (37, 11, 301, 257, 224, 224),   # 1.3x by 1.1x
    (100, 50, 500, 300, 100, 83),   # 6x by 3x
    (5, 7, 150, 120, 224, 224),     # enlarges
    (60, 20, 400, 90, 160, 200),    # shrinks across, enlarges down
    (333, 101, 224, 224, 224, 224), # same size: a copy
    (1, 2, 613, 397, 57, 301),      # odd sizes
    (100, 20, 200, 360, 100, 180),  # the height shrinks by more than twice the width's pixels: PIL 13 resizes vertically first
    (190, 50, 260, 300, 224, 224),  # the same, just (76 > 2 * 36)
]


def chw(pil_image):
    return np.ascontiguousarray(np.asarray(pil_image).transpose(2, 0, 1))


def make(out: pathlib.Path) -> None:
    photos = []
    for k, name in enumerate(PHOTOS):
        img = Image.open(ROOT / name).convert("RGB")
        img = img.resize((640, round(640 * img.height / img.width)), Image.BILINEAR)
        img = img.crop((0, 0, 640, min(img.height, 400)))
        img.save(out / f"photo{k}.png")
        photos.append(Image.open(out / f"photo{k}.png").convert("RGB"))
    rows = []
    for k, img in enumerate(photos):
        for (left, top, w, h, oh, ow) in BOXES:
            j = len(rows)
            rows.append([k, left, top, w, h, oh, ow])
            np.save(out / f"box{j}.npy", chw(F.resized_crop(img, top, left, h, w, [oh, ow], antialias=True)))
        crop_resize = T.Compose([T.CenterCrop((300, 260)), T.Resize((224, 224))])
        np.save(out / f"pipeline{k}_crop_resize.npy", chw(crop_resize(img)))
        np.save(out / f"pipeline{k}_crop_resize_hflip.npy", chw(F.hflip(crop_resize(img))))
        np.save(out / f"pipeline{k}_resize_up.npy", chw(T.Resize((700, 900))(img)))
    np.save(out / "boxes.npy", np.array(rows, dtype=np.int64))

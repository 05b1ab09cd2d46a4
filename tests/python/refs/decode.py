"""References for ftmeta's one decode rule (data/decode.hpp): files made with Pillow, and what
torchvision's loader (PIL's Image.open(...).convert("RGB")) decodes them to.

Written under out/:
  exif_N.jpg, N = 1..8: the same textured 40x24 picture saved as a JPEG whose EXIF orientation
      tag is N (torchvision ignores the tag); exif_6.png: a PNG with an eXIf chunk, orientation 6.
  cmyk.jpg: a CMYK JPEG (Adobe polarity, as Pillow and Photoshop write them).
  grey.png (L), grey16.png (16-bit grey, values over 255 included), rgb16.png and rgba16.png
      (16-bit colour, written by hand: Pillow cannot save them), rgba.png, la.png (grey + alpha),
      palette.png (P with a transparent entry).
  For each file F: F.rgb.npy, PIL's convert("RGB") of it (HxWx3 uint8, EXIF ignored), and
  F.upright.npy, ImageOps.exif_transpose(...).convert("RGB") (EXIF honoured).
"""
import pathlib
import struct
import zlib

import numpy as np
from PIL import Image, ImageOps


def picture(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x * y) % 256], axis=-1).astype(np.int32)
    base[: h // 3, : w // 4] = [250, 10, 10]  # an asymmetric block: every flip and rotation differs
    noise = rng.integers(-20, 21, size=base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png16(path: pathlib.Path, pixels: np.ndarray) -> None:
    """A 16-bit PNG (colour type 2 or 6) from an HxWxC uint16 array, written chunk by chunk."""
    h, w, c = pixels.shape
    colour = {3: 2, 4: 6}[c]
    rows = b"".join(b"\x00" + pixels[r].astype(">u2").tobytes() for r in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(rows)) +
                     png_chunk(b"IEND", b""))


def references(path: pathlib.Path) -> None:
    with Image.open(path) as im:
        np.save(path.with_name(path.name + ".rgb.npy"), np.asarray(im.convert("RGB")))
    with Image.open(path) as im:
        np.save(path.with_name(path.name + ".upright.npy"), np.asarray(ImageOps.exif_transpose(im).convert("RGB")))


def make(out: pathlib.Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rgb = picture(24, 40)
    files = []
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        exif[0x010F] = "ftmeta"  # a second tag, so the reader walks the directory
        p = out / f"exif_{orientation}.jpg"
        Image.fromarray(rgb, "RGB").save(p, quality=90, exif=exif.tobytes())
        files.append(p)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(rgb, "RGB").save(out / "exif_6.png", exif=exif.tobytes())
    files.append(out / "exif_6.png")

    Image.fromarray(rgb, "RGB").convert("CMYK").save(out / "cmyk.jpg", quality=95)
    Image.fromarray(rgb[:, :, 1], "L").save(out / "grey.png")
    grey16 = (rgb[:, :, 0].astype(np.uint16) * 257) // 3  # 0 .. 21845: most values over 255
    grey16[0, :8] = np.arange(8, dtype=np.uint16) * 40  # and a few under
    Image.fromarray(grey16).save(out / "grey16.png")
    rgb16 = rgb.astype(np.uint16) * 257 + np.arange(rgb.size, dtype=np.uint16).reshape(rgb.shape) % 200
    write_png16(out / "rgb16.png", rgb16)
    alpha16 = np.full(rgb.shape[:2] + (1,), 30000, dtype=np.uint16)
    write_png16(out / "rgba16.png", np.concatenate([rgb16, alpha16], axis=-1))
    alpha = (np.arange(rgb.shape[0] * rgb.shape[1]) % 256).reshape(rgb.shape[:2]).astype(np.uint8)
    Image.fromarray(np.dstack([rgb, alpha])).save(out / "rgba.png")
    Image.fromarray(np.dstack([rgb[:, :, 2], alpha])).save(out / "la.png")
    pal = Image.fromarray(rgb, "RGB").quantize(colors=16)
    pal.save(out / "palette.png", transparency=3)
    files += [out / n for n in ("cmyk.jpg", "grey.png", "grey16.png", "rgb16.png", "rgba16.png", "rgba.png", "la.png",
                                "palette.png")]
    with Image.open(out / "grey16.png") as im:
        assert im.mode.startswith("I"), im.mode
    with Image.open(out / "cmyk.jpg") as im:
        assert im.mode == "CMYK"
    for p in files:
        references(p)

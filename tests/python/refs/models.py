"""References for the torchvision backbones, freezing, safetensors and the training step
(tests/unit/models_*.cpp, tests/unit/weights_safetensors.cpp).

Writes, per backbone (resnet18, resnet34, resnet50, mobilenet_v2): NAME.pth, the state dict of
torchvision's model with seeded random weights and BatchNorm statistics gathered on random batches
(so eval mode is not the identity); NAME_input.npy [2,3,64,64]; NAME_features.npy (the map before
pooling) and NAME_logits.npy (torchvision's full forward in eval mode).
Safetensors: dtypes.safetensors, a tensor of every dtype torch and safetensors share, with dtypes.txt
("I<TAB>dtype<TAB>shape<TAB>name" per tensor) and dtype_I.npy (its raw bytes, uint8);
resnet18.safetensors (safetensors.torch.save_file of resnet18.pth's dict, with metadata).
Training step (Lite0 + the blog's head, the real pretrained backbone, run in float64): step_state.pth
(float32), step_input.npy, step_target.npy, step_loss.npy, step_grads.pth (every parameter's gradient).

Run as a script, `models.py roundtrip DIR`, it is the Python half of the export round trip: it
loads DIR/model.safetensors (written by C++) into the same model in Python, strictly, runs it on
DIR/input.safetensors and writes DIR/output.safetensors.
"""
import importlib.util
import pathlib
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

BACKBONES = ["resnet18", "resnet34", "resnet50", "mobilenet_v2"]


def _torchvision_model(name: str, seed: int) -> nn.Module:
    import torchvision
    torch.manual_seed(seed)
    model = getattr(torchvision.models, name)(weights=None)
    g = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.normal_(0, 0.1, generator=g)
                m.momentum = None  # cumulative average over the batches below
        model.train()
        for _ in range(2):
            model(torch.randn(4, 3, 64, 64, generator=g))
    model.eval()
    return model


def _features(name: str, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if name.startswith("resnet"):
        x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        return model.layer4(model.layer3(model.layer2(model.layer1(x))))
    return model.features(x)


def _lite0_module():
    spec = importlib.util.spec_from_file_location("refs_lite0_for_models", pathlib.Path(__file__).with_name("lite0.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _blog_head(features: int, classes: int) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm1d(features), nn.Dropout(0.5), nn.Linear(features, 512), nn.BatchNorm1d(512),
                         nn.ELU(), nn.Dropout(0.5), nn.Linear(512, classes))


class _Classifier(nn.Module):
    """ftmeta's Classifier in Python: `backbone` (classifier removed), global average pooling, `head`."""

    def __init__(self, backbone: nn.Module, head: nn.Module, pool_inside: bool):
        super().__init__()
        self.backbone, self.head, self.pool_inside = backbone, head, pool_inside

    def forward(self, x):
        f = self.backbone(x)
        return self.head(f if self.pool_inside else f.mean((2, 3)))


def _roundtrip_model(classes: int) -> nn.Module:
    """Classifier<ResNet18, AvgPool, Head<BatchNorm1d, Linear<64>, ReLU, Linear<Classes>>> in Python."""
    import torchvision
    backbone = torchvision.models.resnet18(weights=None)
    backbone.fc = nn.Identity()  # torchvision's forward then ends with the pooled, flattened features
    head = nn.Sequential(nn.BatchNorm1d(512), nn.Linear(512, 64), nn.ReLU(), nn.Linear(64, classes))
    return _Classifier(backbone, head, pool_inside=True)


def roundtrip(folder: pathlib.Path) -> None:
    from safetensors.torch import load_file, save_file
    state = load_file(str(folder / "model.safetensors"))
    classes = state["head.3.weight"].shape[0]
    model = _roundtrip_model(classes)
    model.load_state_dict(state, strict=True)  # every key, every shape, nothing extra
    model.eval()
    with torch.no_grad():
        logits = model(load_file(str(folder / "input.safetensors"))["x"])
    # Echo one tensor of each dtype seen, so C++ can check the values arrived bit for bit.
    save_file({"logits": logits.contiguous(), "bn_var": state["backbone.layer1.0.bn1.running_var"].contiguous(),
               "tracked": state["head.0.num_batches_tracked"].reshape(1)}, str(folder / "output.safetensors"))


def _dtype_tensors() -> dict:
    g = torch.Generator().manual_seed(3)
    d = {
        "f64": torch.randn(3, 2, generator=g, dtype=torch.float64),
        "f32": torch.randn(4, 5, generator=g),
        "f16": torch.randn(7, generator=g).half(),
        "bf16": torch.randn(2, 3, generator=g).bfloat16(),
        "i64": torch.randint(-2**40, 2**40, (3,), generator=g, dtype=torch.int64),
        "i32": torch.randint(-2**30, 2**30, (2, 2), generator=g, dtype=torch.int32),
        "i16": torch.randint(-2**14, 2**14, (5,), generator=g, dtype=torch.int16),
        "i8": torch.randint(-128, 127, (3,), generator=g, dtype=torch.int8),
        "u8": torch.randint(0, 255, (6,), generator=g, dtype=torch.uint8),
        "bool": torch.rand(5, generator=g) > 0.5,
        "f8_e4m3": torch.randn(4, generator=g).to(torch.float8_e4m3fn),
        "f8_e5m2": torch.randn(4, generator=g).to(torch.float8_e5m2),
        "c64": torch.randn(3, generator=g, dtype=torch.complex64),
        "u16": torch.randint(0, 2**15, (3,), generator=g, dtype=torch.int32).to(torch.uint16),
        "u32": torch.randint(0, 2**30, (3,), generator=g, dtype=torch.int64).to(torch.uint32),
        "u64": torch.randint(0, 2**62, (2,), generator=g, dtype=torch.int64).to(torch.uint64),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 4),
        "name with \"quotes\" \u00e9": torch.ones(1),
    }
    return d


def _training_step(out: pathlib.Path) -> None:
    lite0 = _lite0_module()
    torch.manual_seed(11)
    backbone = lite0.Lite0(num_classes=0)
    pretrained = torch.load(lite0.weights_path(), map_location="cpu", weights_only=True)
    backbone.load_state_dict({k: v for k, v in pretrained.items() if not k.startswith("_fc.")}, strict=True)
    model = _Classifier(backbone, _blog_head(1280, 5), pool_inside=False)
    torch.save(model.state_dict(), out / "step_state.pth")
    # In float64: the step's gradients are then the same function on both sides to ~1e-12, where
    # float32 rounding alone moves some (train-mode BatchNorm over 16 values) by a percent.
    model = model.double()
    g = torch.Generator().manual_seed(12)
    x = torch.randn(4, 3, 64, 64, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 3, 1, 4])
    model.train()
    for m in model.modules():  # dropout is random: both sides run the step without it
        if isinstance(m, nn.Dropout):
            m.eval()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    np.save(out / "step_input.npy", x.numpy())
    np.save(out / "step_target.npy", y.numpy())
    np.save(out / "step_loss.npy", loss.detach().reshape(1).numpy())
    torch.save({k: p.grad for k, p in model.named_parameters()}, out / "step_grads.pth")


def make(out: pathlib.Path) -> None:
    from safetensors.torch import save_file
    for seed, name in enumerate(BACKBONES):
        model = _torchvision_model(name, seed)
        torch.save(model.state_dict(), out / f"{name}.pth")
        x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(50 + seed))
        with torch.no_grad():
            np.save(out / f"{name}_input.npy", x.numpy())
            np.save(out / f"{name}_features.npy", _features(name, model, x).numpy())
            np.save(out / f"{name}_logits.npy", model(x).numpy())
        if name == "resnet18":
            save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / "resnet18.safetensors"),
                      metadata={"format": "pt", "source": "ftmeta refs"})
    tensors = _dtype_tensors()
    save_file(tensors, str(out / "dtypes.safetensors"), metadata={"what": "every dtype"})
    lines = []  # per tensor: its raw bytes as dtype_I.npy (uint8) and "I<TAB>dtype<TAB>shape<TAB>name"
    for i, (k, v) in enumerate(tensors.items()):
        np.save(out / f"dtype_{i}.npy", v.contiguous().reshape(-1).view(torch.uint8).numpy())
        lines.append(f"{i}\t{str(v.dtype).removeprefix('torch.')}\t{'x'.join(str(d) for d in v.shape)}\t{k}")
    (out / "dtypes.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _training_step(out)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "roundtrip":
        roundtrip(pathlib.Path(sys.argv[2]))
    else:
        sys.exit("usage: models.py roundtrip DIR")

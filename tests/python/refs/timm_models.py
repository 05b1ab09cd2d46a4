"""References for timm's backbones (tests/unit/models_timm*.cpp, nn_preprocess.cpp, nn_registry.cpp).

Per backbone NAME (mobilenetv3_small_100, mobilenetv3_large_100, efficientnet_b0, convnext_tiny,
vit_small_patch16_224, and resnet18 in timm's format): NAME/ is the folder timm's save_for_hf writes (model.safetensors and a real
config.json with timm's pretrained_cfg), from timm.create_model(NAME, pretrained=False) with seeded
random weights: every norm's affine part, ConvNeXt's gamma and ViT's tokens drawn at random and
BatchNorm statistics gathered on random batches, so eval mode is not the identity. NAME_input.npy
[2, 3, 64, 64]; NAME_features.npy (timm's pre-logits features) and NAME_logits.npy (timm's forward,
eval mode); NAME_eval.txt, timm's evaluation transform for the config (create_transform). ViT also at 224 px (vit_small_patch16_224_224_*.npy): 64 px runs timm with
dynamic_img_size=True, which resamples the 14 x 14 position embeddings to 4 x 4.
mobilenetv3_small_100_legacy.pth: its state dict in torch.save's legacy (pickle) format.
Training step (float64, as models.py's Lite0 step): for mobilenetv3_small_100 and efficientnet_b0,
NAME_step_state.safetensors (backbone + a Linear head, float32), NAME_step_input.npy,
NAME_step_target.npy, NAME_step_loss.npy and NAME_step_grads.safetensors (every parameter's gradient).
"""
import pathlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

BACKBONES = ["mobilenetv3_small_100", "mobilenetv3_large_100", "efficientnet_b0", "convnext_tiny", "vit_small_patch16_224",
             "resnet18"]  # timm's resnet18 has torchvision's keys: its hub folder loads into ftmeta's ResNet-18
STEP = ["mobilenetv3_small_100", "efficientnet_b0"]


def _randomize(model: nn.Module, seed: int) -> nn.Module:
    g = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma"):  # ConvNeXt layer scale (1e-6 at init: the blocks would vanish)
                p.uniform_(0.2, 0.6, generator=g)
            elif name in ("cls_token", "pos_embed"):
                p.normal_(0, 0.5, generator=g)
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)) and m.weight is not None:
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.normal_(0, 0.1, generator=g)
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = None  # cumulative average over the batches below
        if any(isinstance(m, nn.BatchNorm2d) for m in model.modules()):
            model.train()
            for _ in range(2):
                model(torch.randn(4, 3, 64, 64, generator=g))
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = 0.1
    return model.eval()


def _model(name: str, seed: int, **kwargs) -> nn.Module:
    import timm
    torch.manual_seed(seed)
    return timm.create_model(name, pretrained=False, **kwargs)


def _run(model: nn.Module, x: torch.Tensor, out: pathlib.Path, stem: str) -> None:
    with torch.no_grad():
        np.save(out / f"{stem}_input.npy", x.numpy())
        np.save(out / f"{stem}_features.npy", model.forward_head(model.forward_features(x), pre_logits=True).numpy())
        np.save(out / f"{stem}_logits.npy", model(x).numpy())


class _Classifier(nn.Module):
    """ftmeta's Classifier<Model<B, AvgPool, Head<Linear<Classes>>>> in Python."""

    def __init__(self, backbone: nn.Module, features: int, classes: int):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Sequential(nn.Linear(features, classes))

    def forward(self, x):
        return self.head(self.backbone.forward_head(self.backbone.forward_features(x), pre_logits=True))


def _training_step(name: str, model: nn.Module, out: pathlib.Path) -> None:
    from safetensors.torch import save_file
    model.reset_classifier(0)
    torch.manual_seed(21)
    net = _Classifier(model, getattr(model, "head_hidden_size", None) or model.num_features, 5)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(out / f"{name}_step_state.safetensors"))
    net = net.double()
    g = torch.Generator().manual_seed(22)
    x = torch.randn(4, 3, 64, 64, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 3, 1, 4])
    net.train()
    loss = F.cross_entropy(net(x), y)
    loss.backward()
    np.save(out / f"{name}_step_input.npy", x.numpy())
    np.save(out / f"{name}_step_target.npy", y.numpy())
    np.save(out / f"{name}_step_loss.npy", loss.detach().reshape(1).numpy())
    save_file({k: p.grad.contiguous() for k, p in net.named_parameters()}, str(out / f"{name}_step_grads.safetensors"))


def _eval_pipeline(model: nn.Module, out: pathlib.Path, name: str) -> None:
    """timm's own evaluation transform for the model's pretrained_cfg, as one line of NAME_eval.txt:
    resize (shorter side), crop, interpolation, mean (3), std (3)."""
    import timm.data
    from torchvision import transforms as T
    cfg = timm.data.resolve_data_config({}, model=model)
    steps = timm.data.create_transform(**cfg, is_training=False).transforms
    resize = next(t for t in steps if isinstance(t, T.Resize))
    crop = next(t for t in steps if isinstance(t, T.CenterCrop))
    norm = next(t for t in steps if isinstance(t, T.Normalize))
    size = resize.size if isinstance(resize.size, int) else resize.size[0]
    fields = [size, crop.size[0], resize.interpolation.value] + [float(v) for v in norm.mean] + [float(v) for v in norm.std]
    (out / f"{name}_eval.txt").write_text(" ".join(str(f) for f in fields) + "\n", encoding="utf-8")


def make(out: pathlib.Path) -> None:
    from timm.models._hub import save_for_hf
    for seed, name in enumerate(BACKBONES):
        model = _randomize(_model(name, seed), seed)
        save_for_hf(model, str(out / name), safe_serialization=True)
        _eval_pipeline(model, out, name)
        x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(50 + seed))
        if name.startswith("vit"):
            _run(model, torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(70)), out, name + "_224")
            dynamic = _model(name, seed, dynamic_img_size=True).eval()
            dynamic.load_state_dict(model.state_dict(), strict=True)
            model = dynamic
        _run(model, x, out, name)
        if name == "mobilenetv3_small_100":  # the legacy torch.save format, for the bad-file tests
            torch.save(model.state_dict(), out / f"{name}_legacy.pth", _use_new_zipfile_serialization=False)
        if name in STEP:
            _training_step(name, model, out)

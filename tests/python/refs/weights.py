"""References for the state-dict reader (tests/unit/weights_*.cpp).

Writes small torch.save files in both formats (zip, legacy), wrapped and prefixed variants, and
hostile files (a refused global, a view past its storage, a lying element count), plus the
expected values as float64 .npy (one per key) and keys.txt ("key dtype shape" per line, file order).
"""
import os
import pathlib
import pickletools
import struct
from collections import OrderedDict

import numpy as np
import torch


def _tensors() -> "OrderedDict[str, torch.Tensor]":
    g = torch.Generator().manual_seed(7)
    base = torch.randn(4, 6, generator=g)
    d = OrderedDict()
    d["base"] = base
    d["transposed"] = base.t()            # shares base's storage, other strides
    d["corner"] = base[1:, 2:]            # shares it with an offset
    d["double"] = torch.randn(3, 2, generator=g, dtype=torch.float64)
    d["half"] = torch.randn(5, generator=g).half()
    d["bfloat"] = torch.randn(2, 3, generator=g).bfloat16()
    d["long_scalar"] = torch.tensor(12345678901)
    d["int"] = torch.randint(-1000, 1000, (7,), generator=g, dtype=torch.int32)
    d["short"] = torch.randint(-300, 300, (2, 2), generator=g, dtype=torch.int16)
    d["char"] = torch.randint(-100, 100, (3,), generator=g, dtype=torch.int8)
    d["byte"] = torch.randint(0, 255, (4,), generator=g, dtype=torch.uint8)
    d["flags"] = torch.rand(6, generator=g) > 0.5
    d["empty"] = torch.zeros(0, 3)
    d["param.weight"] = torch.nn.Parameter(torch.randn(2, 2, generator=g))
    return d


class _Evil:
    """Pickles as a call of os.system; a safe loader must refuse it (the file is never loaded here)."""

    def __reduce__(self):
        return (os.system, ("echo ftmeta-should-never-run-this",))


class _BadView:
    """Pickles as a tensor whose view reaches past its 10-element storage."""

    def __init__(self):
        self.storage = torch.zeros(10).untyped_storage()

    def __reduce__(self):
        typed = torch.storage.TypedStorage(wrap_storage=self.storage, dtype=torch.float32, _internal=True)
        return (torch._utils._rebuild_tensor_v2, (typed, 0, (1000,), (1,), False, OrderedDict()))


def _legacy_data_start(raw: bytes) -> int:
    """Byte offset just after the five pickles of a legacy torch.save file (the first element count)."""
    pos = 0
    for _ in range(5):
        for op, arg, at in pickletools.genops(raw[pos:]):
            if op.name == "STOP":
                pos += at + 1
                break
    return pos


def make(out: pathlib.Path) -> None:
    d = _tensors()
    torch.save(d, out / "small_zip.pt")
    torch.save(d, out / "small_legacy.pt", _use_new_zipfile_serialization=False)
    with open(out / "keys.txt", "w") as f:
        for k, v in d.items():
            f.write(f"{k} {v.dtype} {list(v.shape)}\n".replace(" [", " ").replace("]", "").replace(", ", ","))
    for i, (k, v) in enumerate(d.items()):
        np.save(out / f"value_{i}.npy", v.detach().to(torch.float64).contiguous().numpy())

    # Python's own loader must agree with what we wrote (sanity of the references themselves).
    for name in ("small_zip.pt", "small_legacy.pt"):
        back = torch.load(out / name, weights_only=True)
        assert list(back) == list(d) and all(torch.equal(back[k], d[k]) for k in d)

    # Wrapped checkpoints: the reader descends into "state_dict" / "model".
    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    torch.save({"epoch": 3, "state_dict": model.state_dict(), "optimizer": opt.state_dict()}, out / "wrapped_zip.pt")
    torch.save({"model": {"state_dict": model.state_dict()}, "note": "x"}, out / "wrapped_twice_legacy.pt",
               _use_new_zipfile_serialization=False)
    torch.save({"model": model.state_dict()}, out / "wrapped_legacy.pt", _use_new_zipfile_serialization=False)
    np.save(out / "wrapped_weight.npy", model.state_dict()["0.weight"].to(torch.float64).numpy())
    torch.save(OrderedDict((f"module.{k}", v) for k, v in model.state_dict().items()), out / "module_prefix.pt")
    torch.save({"not": "tensors", "n": 1}, out / "no_tensors.pt")

    torch.save({"weight": _Evil()}, out / "evil_zip.pt")
    torch.save({"weight": _Evil()}, out / "evil_legacy.pt", _use_new_zipfile_serialization=False)
    torch.save({"weight": _BadView()}, out / "bad_view_legacy.pt", _use_new_zipfile_serialization=False)
    torch.save({"weight": _BadView()}, out / "bad_view_zip.pt")

    # One non-empty storage, so the first element count is known: legacy files list storages in
    # the order of their keys, which derive from memory addresses (an empty one may come first).
    torch.save({"w": torch.arange(6.0)}, out / "one_legacy.pt", _use_new_zipfile_serialization=False)
    raw = (out / "one_legacy.pt").read_bytes()
    at = _legacy_data_start(raw)
    (count,) = struct.unpack("<q", raw[at:at + 8])
    assert count == 6, count  # the element count of the only storage
    (out / "lying_count_legacy.pt").write_bytes(raw[:at] + struct.pack("<q", 1 << 40) + raw[at + 8:])
    (out / "short_count_legacy.pt").write_bytes(raw[:at] + struct.pack("<q", count - 1) + raw[at + 8:])
    with open(out / "legacy_data_start.txt", "w") as f:  # of small_legacy.pt, for truncating it
        f.write(f"{_legacy_data_start((out / 'small_legacy.pt').read_bytes())}\n")

"""Runs every reference generator in tests/python/refs/ with the real Python packages.

Usage: make_refs.py OUT_DIR [NAME ...]
Each module refs/NAME.py defines `make(out_dir: pathlib.Path) -> None` and writes its reference
files (torch.save zip archives, PNGs, JSON) under out_dir/NAME/. The C++ tests read them from
FTMETA_REFS_DIR. Nothing here is typed in: every number comes from running torch/torchvision.
"""
import importlib.util
import pathlib
import sys
import time


def main() -> int:
    out = pathlib.Path(sys.argv[1])
    only = set(sys.argv[2:])
    here = pathlib.Path(__file__).resolve().parent / "refs"
    for path in sorted(here.glob("*.py")):
        name = path.stem
        if name.startswith("_") or (only and name not in only):
            continue
        spec = importlib.util.spec_from_file_location(f"refs_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        target = out / name
        target.mkdir(parents=True, exist_ok=True)
        t0 = time.time()
        module.make(target)
        print(f"refs: {name} written to {target} in {time.time() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Checks ONNX files written by export_onnx with the real Python packages: onnx.checker (full check,
with strict shape inference), the metadata and the dynamic batch axis, and ONNX Runtime's logits
against LibTorch's (NAME.logits.npy) on the same input (NAME.input.npy), within 1e-4 relative.

Usage: onnx_check.py DIR NAME...   (exit 1 and one line per failure when anything is off)
A NAME ending in @N was exported with a fixed batch of N (OnnxExportOptions::batch): its batch axis
must be N; the others' must be dynamic, and one image alone must give its row of the batch.
"""
import pathlib
import sys

import numpy as np
import onnx
import onnxruntime as ort

KEYS = ["ftmeta.format", "ftmeta.class_names", "ftmeta.model", "ftmeta.model_name", "ftmeta.preprocess.resize",
        "ftmeta.preprocess.input_size", "ftmeta.preprocess.channels", "ftmeta.preprocess.mean", "ftmeta.preprocess.std"]


def check(d: pathlib.Path, name: str) -> list[str]:
    errors = []
    path = d / f"{name}.onnx"
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    opset = {o.domain: o.version for o in model.opset_import}.get("", 0)
    if opset < 17:
        errors.append(f"{name}: opset {opset} < 17")
    meta = {p.key: p.value for p in model.metadata_props}
    for k in KEYS:
        if k not in meta:
            errors.append(f"{name}: metadata has no {k}")
    batch = model.graph.input[0].type.tensor_type.shape.dim[0]
    fixed = int(name.rsplit("@", 1)[1]) if "@" in name else 0
    if fixed and batch.dim_value != fixed:
        errors.append(f"{name}: the input's batch axis is not {fixed}")
    if not fixed and (batch.dim_param == "" or batch.HasField("dim_value")):
        errors.append(f"{name}: the input's batch axis is not dynamic")
    if any(n.op_type == "Dropout" for n in model.graph.node):
        errors.append(f"{name}: a Dropout node is left")
    x = np.load(d / f"{name}.input.npy")
    want = np.load(d / f"{name}.logits.npy")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    rel = float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-6))
    # The batch axis is dynamic: one image alone gives its row of the batch.
    rel_one = 0.0
    if not fixed:
        one = session.run(None, {session.get_inputs()[0].name: x[1:2]})[0]
        rel_one = float(np.abs(one - want[1:2]).max() / max(np.abs(want).max(), 1e-6))
    status = "ok" if rel <= 1e-4 and rel_one <= 1e-4 else "MISMATCH"
    print(f"onnx_check: {name}: onnxruntime {ort.__version__} vs libtorch: max relative error {rel:.2e} "
          f"(batch {x.shape[0]}{' fixed' if fixed else ''}), {rel_one:.2e} (batch 1), opset {opset}, {len(model.graph.node)} nodes: {status}")
    if status != "ok":
        errors.append(f"{name}: onnxruntime differs from libtorch by {max(rel, rel_one):.2e} relative (> 1e-4)")
    if meta.get("ftmeta.class_names", "").count("\n") != want.shape[1]:
        errors.append(f"{name}: {meta.get('ftmeta.class_names', '').count(chr(10))} class names for {want.shape[1]} logits")
    return errors


def main() -> int:
    d = pathlib.Path(sys.argv[1])
    names = sys.argv[2:]
    if not names:
        print("onnx_check: no model names given", file=sys.stderr)
        return 2
    errors = []
    for name in names:
        try:
            errors += check(d, name)
        except Exception as e:  # the checker's and the runtime's own errors, one line each
            errors.append(f"{name}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    for e in errors:
        print(f"onnx_check: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

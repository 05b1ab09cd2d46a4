"""predict_onnx against predict over a folder of class folders: the same class for every image,
probabilities within 1e-4, and the accuracy (folder name = true class) equal to the trainer's own
test accuracy in test.json. Exit 1 with one line per problem.

Usage: compare_predictions.py --predict BIN --checkpoint best.pt --predict-onnx BIN --onnx model.onnx
                              --images DIR --test-json test.json
       compare_predictions.py ... --files IMAGE... [--exif-orientation]
With --files: only the agreement, on those images (both programs given --exif-orientation when asked).
"""
import argparse
import json
import pathlib
import subprocess
import sys


def run(cmd: list[str]) -> dict[str, tuple[str, float]]:
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"compare_predictions: {cmd[0]} failed ({out.returncode}): {out.stderr.strip()}")
    rows = {}
    for line in out.stdout.splitlines():
        image, name, prob = line.split("\t")
        rows[image] = (name, float(prob))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    for flag in ["predict", "checkpoint", "predict-onnx", "onnx"]:
        ap.add_argument(f"--{flag}", required=True)
    ap.add_argument("--images")
    ap.add_argument("--test-json")
    ap.add_argument("--files", nargs="+")
    ap.add_argument("--exif-orientation", action="store_true")
    a = ap.parse_args()
    if a.files:
        images = a.files
    else:
        images = sorted(str(p) for p in pathlib.Path(a.images).glob("*/*") if p.is_file())
    if not images:
        print(f"compare_predictions: no images under {a.images}", file=sys.stderr)
        return 1
    extra = ["--exif-orientation"] if a.exif_orientation else []
    torch_rows = run([a.predict, "--checkpoint", a.checkpoint, *extra, *images])
    onnx_rows = run([a.predict_onnx, "--onnx", a.onnx, "--batch", "16", *extra, *images])
    errors = []
    differing = 0
    for image in images:
        (tn, tp), (on, op) = torch_rows[image], onnx_rows[image]
        if tn != on or abs(tp - op) > 1.5e-4:  # printed with 4 decimals: equal up to the last digit's rounding
            differing += 1
            errors.append(f"{image}: predict says {tn} {tp:.4f}, predict_onnx {on} {op:.4f}")
    if a.files:
        print(f"compare_predictions: {len(images)} files{' (EXIF orientation honoured)' if extra else ''}; "
              f"{len(images) - differing} of {len(images)} lines agree with predict")
        for e in errors:
            print(f"compare_predictions: {e}", file=sys.stderr)
        return 1 if errors else 0
    correct = sum(onnx_rows[i][0] == pathlib.Path(i).parent.name for i in images)
    accuracy = correct / len(images)
    test = json.loads(pathlib.Path(a.test_json).read_text())
    if test["samples"] != len(images) or abs(test["accuracy"] - accuracy) > 1e-9:
        errors.append(f"predict_onnx accuracy {accuracy:.6f} on {len(images)} images; the trainer's test.json: "
                      f"{test['accuracy']:.6f} on {test['samples']}")
    print(f"compare_predictions: {len(images)} images, predict_onnx accuracy {accuracy:.6f}, trainer's test accuracy "
          f"{test['accuracy']:.6f}; {len(images) - differing} of {len(images)} lines agree with predict")
    for e in errors:
        print(f"compare_predictions: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

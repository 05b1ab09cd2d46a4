"""examples/predict_matches_test.py: finetune's test accuracy must equal predict's over the same
folder of JPEG photos (CTest: example.predict.matches_test). The photos are the fixture's PNGs saved
as JPEGs by Pillow, each tagged with one of the 8 EXIF orientations, so a trainer and a predictor
that decoded them by different rules would disagree.

  predict_matches_test.py FINETUNE PREDICT PNG_CLASS_FOLDERS WORK_DIR [FINETUNE_ARGS...]
"""
import json
import pathlib
import shutil
import subprocess
import sys

from PIL import Image


def main() -> int:
    finetune, predict, source, work = sys.argv[1:5]
    extra = sys.argv[5:]
    work = pathlib.Path(work)
    shutil.rmtree(work, ignore_errors=True)
    photos = work / "photos"
    i = 0
    for cls in sorted(p for p in pathlib.Path(source).iterdir() if p.is_dir()):
        (photos / cls.name).mkdir(parents=True)
        for png in sorted(cls.glob("*.png")):
            exif = Image.Exif()
            exif[0x0112] = i % 8 + 1
            with Image.open(png) as im:
                rgb = im.convert("RGB").resize((56, 40))  # not square: a turned image has another shape
                rgb.save(photos / cls.name / (png.stem + ".jpg"), quality=90, exif=exif.tobytes())
            i += 1
    out = work / "run"
    run = subprocess.run([finetune, "--data", str(photos), "--out", str(out), *extra], capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stdout, run.stderr)
        return 1
    trained = json.loads((out / "test.json").read_text())
    test = []
    for line in (out / "split.tsv").read_text().splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[2] == "test":
            test.append(photos / parts[0])
    assert len(test) == trained["samples"], (len(test), trained["samples"])
    pred = subprocess.run([predict, "--checkpoint", str(out / "best.pt"), *map(str, test)], capture_output=True, text=True)
    if pred.returncode != 0:
        print(pred.stdout, pred.stderr)
        return 1
    hits = 0
    truth, said = {}, {}  # per class: images of it, images predicted as it, and the hits
    for line in pred.stdout.splitlines():
        path, name, _ = line.split("\t")
        label = pathlib.Path(path).parent.name
        hits += label == name
        truth.setdefault(label, [0, 0])[0] += 1
        truth[label][1] += label == name
        said[name] = said.get(name, 0) + 1
    predicted = hits / len(test)
    # per class too: recall and precision as test.json records them (a stronger check than the mean)
    for c in trained["classes"]:
        n, h = truth.get(c["name"], [0, 0])
        recall = h / n if n else 0.0
        precision = h / said[c["name"]] if said.get(c["name"]) else 0.0
        if n != c["support"] or abs(recall - c["recall"]) > 1e-6 or abs(precision - c["precision"]) > 1e-6:
            print(f"MISMATCH in class {c['name']}: predict support {n} recall {recall:.6f} precision {precision:.6f}, "
                  f"finetune {c['support']} {c['recall']:.6f} {c['precision']:.6f}")
            return 1
    print(f"finetune test accuracy {trained['accuracy']:.6f} over {trained['samples']} JPEGs; "
          f"predict {predicted:.6f} ({hits}/{len(test)})")
    if abs(predicted - trained["accuracy"]) > 1e-9:
        print("MISMATCH: the trainer and predict decoded the photos differently")
        return 1
    print("same accuracy")
    return 0


if __name__ == "__main__":
    sys.exit(main())

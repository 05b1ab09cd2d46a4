#!/usr/bin/env bash
# Accuracy of the predict example on an ImageFolder split: every image under DIR/CLASS/ is predicted
# (top-1) and counted right when the predicted class name is its folder's name. Used by
# docs/results.md to measure the flip test-time augmentation (--tta) against plain prediction.
#   predict_accuracy.sh PREDICT CHECKPOINT DIR [PREDICT_FLAGS...]
set -euo pipefail
predict=${1:?usage: predict_accuracy.sh PREDICT CHECKPOINT DIR [FLAGS...]} checkpoint=${2:?checkpoint} dir=${3:?image folder}
shift 3
t0=$SECONDS
# predict prints IMAGE<TAB>CLASS<TAB>PROBABILITY; the truth is the image's parent folder.
find "$dir" -mindepth 2 -maxdepth 2 -type f -print0 | sort -z | xargs -0 "$predict" --checkpoint "$checkpoint" "$@" |
  awk -F"\t" '
    { n++; split($1, parts, "/"); truth = parts[length(parts) - 1]; if ($2 == truth) right++ }
    END { if (n == 0) { print "no images"; exit 1 } printf "accuracy: %.4f (%d of %d images)\n", right / n, right, n }'
echo "seconds: $((SECONDS - t0))"

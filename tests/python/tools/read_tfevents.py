"""Prints the scalars of a TensorBoard event file as `tag<TAB>step<TAB>value` lines, read by
TensorBoard's own EventAccumulator (the reference reader of the format). Usage: read_tfevents.py FILE_OR_DIR"""
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main() -> int:
    acc = EventAccumulator(sys.argv[1])
    acc.Reload()
    for tag in sorted(acc.Tags()["scalars"]):
        for e in acc.Scalars(tag):
            print(f"{tag}\t{e.step}\t{e.value!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

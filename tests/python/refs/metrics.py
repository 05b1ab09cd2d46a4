"""Reference metrics from scikit-learn for seeded random predictions.

Writes metrics/labels.npy, metrics/scores.npy (logits of 500 samples x 7 classes, biased toward the
true class so the figures are not trivial), and from scikit-learn: confusion.npy, precision.npy,
recall.npy, f1.npy (per class, zero_division=0), macro_f1.npy, top1.npy, top5.npy.
"""
import pathlib

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support, top_k_accuracy_score


def make(out: pathlib.Path) -> None:
    rng = np.random.default_rng(7)
    n, k = 500, 7
    labels = rng.integers(0, k - 1, size=n)  # class 6 never occurs: zero_division paths
    scores = rng.normal(size=(n, k)).astype(np.float32)
    scores[np.arange(n), labels] += 1.2
    pred = scores.argmax(1)
    np.save(out / "labels.npy", labels.astype(np.int64))
    np.save(out / "scores.npy", scores)
    np.save(out / "confusion.npy", confusion_matrix(labels, pred, labels=list(range(k))).astype(np.int64))
    p, r, f, _ = precision_recall_fscore_support(labels, pred, labels=list(range(k)), zero_division=0)
    np.save(out / "precision.npy", p.astype(np.float64))
    np.save(out / "recall.npy", r.astype(np.float64))
    np.save(out / "f1.npy", f.astype(np.float64))
    np.save(out / "macro_f1.npy", np.array([f1_score(labels, pred, labels=list(range(k)), average="macro", zero_division=0)]))
    np.save(out / "top1.npy", np.array([accuracy_score(labels, pred)]))
    np.save(out / "top5.npy", np.array([top_k_accuracy_score(labels, scores, k=5, labels=list(range(k)))]))

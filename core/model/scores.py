"""Per-class precision, recall and F1 from a confusion matrix, and the scores of predictions made on
a labelled folder (class sub-folders) against the folder names. No torch: the app reads these too."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence


def class_scores(confusion: Sequence[Sequence[int]], class_names: Sequence[str]) -> dict[str, dict]:
    """{class: {"precision", "recall", "f1", "n"}} for each class with images in the set
    (`confusion[true][predicted]`); a class never predicted has precision 0."""
    out = {}
    for i, name in enumerate(class_names):
        support = sum(confusion[i])
        if not support:
            continue
        predicted = sum(row[i] for row in confusion)
        correct = confusion[i][i]
        precision, recall = (correct / predicted if predicted else 0.0), correct / support
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[name] = {"precision": precision, "recall": recall, "f1": f1, "n": support}
    return out


def labelled_folder_scores(folder: str | os.PathLike, predicted: Mapping[str, str],
                           class_names: Sequence[str]) -> dict | None:
    """Predictions ({image path: predicted class}) on images in class sub-folders of `folder`, scored
    against the sub-folder each image sits in (its first level under `folder`): accuracy, macro-F1,
    n, per-class precision/recall/F1 and the confusion matrix. None when no image sits in a folder
    named after a class (the folder is not labelled); images of other folders are not counted."""
    root = Path(folder).absolute()
    index = {name: i for i, name in enumerate(class_names)}
    pairs = []
    for path, guess in predicted.items():
        try:
            parts = Path(path).absolute().relative_to(root).parts
        except ValueError:
            continue
        if len(parts) > 1 and parts[0] in index and guess in index:
            pairs.append((index[parts[0]], index[guess]))
    if not pairs:
        return None
    confusion = [[0] * len(class_names) for _ in class_names]
    for true, guess in pairs:
        confusion[true][guess] += 1
    scores = class_scores(confusion, class_names)
    return {"accuracy": sum(t == g for t, g in pairs) / len(pairs), "n": len(pairs),
            "macro_f1": sum(s["f1"] for s in scores.values()) / len(scores),
            "per_class": scores, "confusion": confusion, "classes": list(class_names),
            "uncounted": len(predicted) - len(pairs)}

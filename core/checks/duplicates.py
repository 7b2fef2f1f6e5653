"""Near-duplicates: the same picture resized, recompressed or cropped slightly.

Images are compared by a small colour thumbnail (`SIZE`×`SIZE`, the open_clip eval crop, its
mean removed, unit length): what resizing and recompression keep. Measured on the demo folders
with the demo model (`tests/test_checks.py`, `benchmarks/label_checks.py`): its embeddings put two
distinct demo shapes as close as 0.998 cosine while a recompressed copy of one image can fall to
0.65, so the embeddings alone cannot tell a copy from a sibling. The thumbnails can: distinct
demo images reach at most 0.976, planted resized or recompressed copies are above `THRESHOLD` in
more than 95% of cases. The thumbnails are cached on disk like image features (their own key).

A pair is `same-class` (one folder, one class), `cross-class` (one folder, two classes: one of
the labels is likely wrong), `leak` (training and validation or different-conditions folders:
the same picture on both sides inflates accuracy) or `between-evaluation` (two evaluation folders,
validation and different conditions: the robustness test repeats a validation image).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from core.progress import check_cancel, no_cancel

SIZE = 16
THRESHOLD = 0.98
BLOCK = 1024  # rows of the similarity matrix computed at once


class Thumbnails:
    """An `Encoder` (see `core.model.feature_cache`) whose features are the small thumbnails."""

    key = f"thumbnail|{SIZE}|1"
    image_size = SIZE
    interpolation = "bilinear"
    device = "cpu"

    def features(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels.float().flatten(1)
        return F.normalize(x - x.mean(dim=1, keepdim=True), dim=1)


@dataclass
class Pair:
    a: int
    b: int
    similarity: float


def similar_pairs(features: torch.Tensor, threshold: float = THRESHOLD, cancel=no_cancel) -> list[Pair]:
    """Every pair (a < b) of rows whose cosine similarity is at least `threshold`, most similar first."""
    pairs = []
    for start in range(0, len(features), BLOCK):
        check_cancel(cancel)
        sims = features[start:start + BLOCK] @ features.T
        rows, cols = torch.nonzero(sims >= threshold, as_tuple=True)
        for r, c in zip(rows.tolist(), cols.tolist()):
            if start + r < c:
                pairs.append(Pair(start + r, c, float(sims[r, c])))
    return sorted(pairs, key=lambda p: -p.similarity)


def pair_kind(set_a: str, set_b: str, label_a: str, label_b: str, train: str = "train") -> str:
    if set_a != set_b:
        return "leak" if train in (set_a, set_b) else "between-evaluation"
    return "same-class" if label_a == label_b else "cross-class"

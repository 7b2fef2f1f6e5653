"""Moving the "none of these" threshold: for each share of ID validation images kept, the
threshold and the share of each evaluation set's images it still accepts as known.

The threshold stays chosen on ID validation (`NoveltyModel.validation`); the different-conditions
sets are only reported on, so that the user sees what a stricter or looser threshold costs there.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from core.progress import check_cancel, no_cancel
from core.trust.fitting import features_and_logits
from core.trust.novelty import NoveltyModel, threshold_for

KEEPS = tuple(k / 100 for k in range(50, 101))  # the shares a user can choose, one point apart


def set_scores(predictor, novelty: NoveltyModel, sets: dict, *, cache=None,
               cancel: Callable[[], bool] = no_cancel) -> dict[str, torch.Tensor]:
    """{set name: the novelty scores of its usable images} for `sets` ({name: EvalImages or a
    list of samples}), through the predictor's cached features."""
    out = {}
    for name, images in sets.items():
        check_cancel(cancel)
        samples = getattr(images, "samples", images)
        features, logits, _ = features_and_logits(predictor, [s.path for s in samples], cache=cache, cancel=cancel)
        out[name] = novelty.score(features, logits) if len(features) else torch.empty(0)
    return out


def keep_choices(novelty: NoveltyModel, scores: dict[str, torch.Tensor], keeps: Sequence[float] = KEEPS) -> list[dict]:
    """One row per share of ID validation kept: {"keep", "threshold", "known": {set: share of its
    images within the threshold}} (a set without images gets None)."""
    rows = []
    for keep in keeps:
        threshold = threshold_for(novelty.validation, keep)
        rows.append({"keep": keep, "threshold": threshold,
                     "known": {name: float((s <= threshold).float().mean()) if len(s) else None
                               for name, s in scores.items()}})
    return rows

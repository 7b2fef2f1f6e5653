"""Background work for seeing the data: the Data page's map of the project's images
(`core.explore.map`). No Qt; run like every task of `flyp_app.blend_tasks`, with the same `Caches`
(the image features are the ones the Label page and the label check share).
"""

from __future__ import annotations

from flyp_app.label_tasks import open_source
from flyp_app.caches import Caches

SETS = ("training", "validation")  # the names of the map's sets, then each different-conditions folder's


def map_points(datasets) -> list[dict]:
    """Every image of the scan once: {"path", "label" (class folder), "set"}; training first, then
    validation, then each different-conditions folder (an image in two sets is shown once)."""
    points, seen = [], set()
    sets = [(SETS[0], datasets.train), (SETS[1], datasets.val), *datasets.ood.items()]
    for name, samples in sets:
        for sample in samples:
            if str(sample.path) not in seen:
                seen.add(str(sample.path))
                points.append({"path": str(sample.path), "label": datasets.classes[sample.label], "set": name})
    return points


def project_map(caches: Caches, datasets, source: dict, device: str, progress=None, control=None,
                emit=None) -> dict:
    """The 2-D map of the scan's images (`core.explore.map.map_files`) with the model of `source`
    (as `flyp_app.label_tasks.open_source` takes it: the project's model as pretrained, or a run at
    α), each image marked unknown when the model's novelty score says it is like none of the
    classes. Returns {"points" (`map_points`, each with "x", "y" and "known": True, False or None),
    "description", "skipped": [(path, reason)]}."""
    from core.explore.map import map_cache_dir, map_files
    from core.progress import no_cancel, no_progress

    cancel = control or no_cancel
    if emit:
        emit("Loading the model…")
    predictor = open_source(caches, source, device)
    cache = caches.feature_cache(predictor.key)
    points = map_points(datasets)
    if emit:
        emit("Computing the images' features (kept for next time)…")
    novelty = predictor.novelty_model() if source["kind"] == "run" else _zero_shot_novelty(
        caches, predictor, datasets, cache, progress or no_progress, cancel)
    if emit:
        emit("Laying out the map…")
    laid = map_files([p["path"] for p in points], predictor, cache=cache, novelty=novelty,
                     cache_dir=map_cache_dir(), progress=progress or no_progress, cancel=cancel)
    shown = []
    for row, index in enumerate(laid.kept):
        point = points[index]
        point.update(x=float(laid.xy[row, 0]), y=float(laid.xy[row, 1]),
                     known=None if laid.known is None else bool(laid.known[row]))
        shown.append(point)
    return {"points": shown, "description": predictor.description,
            "skipped": [(points[i]["path"], reason) for i, reason in laid.reasons.items()]}


def _zero_shot_novelty(caches: Caches, predictor, datasets, cache, progress, cancel):
    """The pretrained model's novelty score fitted on the project's training images (its threshold
    on validation), once per model and training set; None when it cannot be fitted."""
    from core.errors import FlypError
    from core.trust.fitting import fit_for_predictor

    files = tuple(str(s.path) for s in datasets.train) + ("|",) + tuple(str(s.path) for s in datasets.val)
    key = f"{predictor.key}|{hash(files)}"

    def fit():
        try:
            return fit_for_predictor(predictor, datasets.train, datasets.val, cache=cache, progress=progress,
                                     cancel=cancel)
        except FlypError:  # no usable training or validation image: the map marks none
            return None
    return caches.novelty(key, fit)

"""Fitting a model's novelty score on its own images: the training images' features, the ID
validation images' features and logits, through the same cached feature loop as prediction.

A run at α gets its score from the run's training and validation folders, found again from its
config (`run_samples`); a bundle carries the one fitted at export (`core.trust.stored`).
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from core.errors import FlypError
from core.progress import Progress, no_cancel, no_progress
from core.words import first_names, shown
from core.trust.novelty import DEFAULT_METHOD, KEEP, NoveltyModel, fit_novelty


def features_and_logits(predictor, paths: Sequence, *, cache=None, progress: Progress = no_progress,
                        cancel: Callable[[], bool] = no_cancel) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """The N×D features and N×C logits of the usable files among `paths`, and their indices."""
    from core.model.feature_cache import FeatureCache, all_features

    cache = cache if cache is not None else FeatureCache(predictor.key)
    items = all_features(list(paths), predictor, cache=cache, progress=progress, cancel=cancel)
    kept = [i for i, item in enumerate(items) if item.features is not None]
    if not kept:
        return torch.empty(0, 0), torch.empty(0, len(predictor.class_names)), []
    features = torch.stack([items[i].features for i in kept]).float()
    return features, predictor.head(features).float(), kept


def known_files(predictor, paths: Sequence, *, cache=None, progress: Progress = no_progress,
                cancel: Callable[[], bool] = no_cancel) -> dict[str, bool]:
    """{path: whether the image is like the training images} for the usable files among `paths`,
    by the predictor's novelty score (fitted first if need be); {} for a predictor without one."""
    novelty = predictor.novelty_model()
    if novelty is None:
        return {}
    features, logits, kept = features_and_logits(predictor, paths, cache=cache, progress=progress, cancel=cancel)
    if not kept:
        return {}
    verdicts = novelty.known(novelty.score(features, logits)).tolist()
    return {str(paths[i]): bool(v) for i, v in zip(kept, verdicts)}


def fit_for_predictor(predictor, train: Sequence, val: Sequence, *, method: str = DEFAULT_METHOD,
                      keep: float = KEEP, cache=None, progress: Progress = no_progress,
                      cancel: Callable[[], bool] = no_cancel) -> NoveltyModel:
    """The novelty score of `predictor` fitted on `train` samples (path, label) and its threshold
    set on `val` samples to keep `keep` of them, with the lowering of unusual images' confidence
    fitted on `val` too (`core.trust.lowering`). FlypError when either has no usable image."""
    paths = [s.path for s in train] + [s.path for s in val]
    features, logits, kept = features_and_logits(predictor, paths, cache=cache, progress=progress,
                                                 cancel=cancel)
    in_train = torch.tensor([i < len(train) for i in kept], dtype=torch.bool)
    if not in_train.any() or in_train.all():
        raise FlypError("no usable training or validation images to fit the novelty score on")
    labels = torch.tensor([train[i].label for i in kept if i < len(train)])
    val_labels = torch.tensor([val[i - len(train)].label for i in kept if i >= len(train)])
    return fit_novelty(method, features[in_train], labels, len(predictor.class_names), features[~in_train],
                       logits[~in_train], keep, val_labels)


def run_samples(info: dict, cancel: Callable[[], bool] = no_cancel) -> tuple[list, list, list[str]]:
    """A run's training and ID validation samples, found again from its config (same split seed),
    labelled by the run's own class list, and the warnings to show. When the training folder's
    classes changed since the run (a class folder added, removed or renamed), only the images of
    the run's own classes are kept, and a warning says so: the run still predicts its classes."""
    from core.data.folders import Sample, load_datasets

    config = info["config"]
    data = load_datasets(config["train_dir"], config["val_dir"], [], val_fraction=config["val_fraction"],
                         seed=config["seed"], exclude=config.get("exclude", ()), cancel=cancel)
    listed = list(info["classes"])
    if data.classes == listed:
        return data.train, data.val, []
    index = {name: i for i, name in enumerate(listed)}

    def own(samples: list) -> list:  # relabelled by the run's list: labels beyond its head would index past it
        return [Sample(s.path, index[data.classes[s.label]]) for s in samples if data.classes[s.label] in index]
    return own(data.train), own(data.val), [folder_changed(config["train_dir"], listed, data.classes)]


def folder_changed(folder, listed: list[str], found: list[str]) -> str:
    """The warning for a run whose training folder's classes are no longer those it was trained on."""
    added, gone = [c for c in found if c not in listed], [c for c in listed if c not in found]
    change = "; ".join(([f"classes added since: {first_names(added, 4)}"] if added else [])
                       + ([f"classes gone since: {first_names(gone, 4)}"] if gone else [])) or "its classes were reordered"
    return (f"the training folder {shown(folder)} changed since this run was trained ({change}): predictions are "
            f"over the run's own {len(listed)} classes, and its novelty score is fitted on their images only"
            + ("; train again to include the new classes" if added else ""))


def measure_blend(blended, sets: dict, novelty=None, cancel: Callable[[], bool] = no_cancel) -> dict:
    """The blend's calibration at its current α (`core.trust.calibration.calibration_report`) on
    the run's evaluation images (`core.weights.blend.run_eval_sets`): T fitted on "id" only."""
    from core.progress import check_cancel
    from core.trust.calibration import calibration_report

    logits, features = {}, {}
    for name, images in sets.items():
        check_cancel(cancel)
        features[name] = blended.classifier.features(images, cancel=cancel)
        logits[name] = (blended.classifier.logits_from_features(features[name]), images.labels)
    return calibration_report(logits, novelty, features) | {"alpha": blended.alpha}


SUMMARY_THRESHOLDS = (0.5, 0.7, 0.9)  # the minimum confidences whose coverage the summary keeps


def calibration_summary(report: dict) -> dict:
    """What run.json, flyp.json and the model card keep of a calibration report: T (and how it was
    found) and, per set, accuracy, mean confidence, calibration errors, the share the novelty
    threshold keeps, and the coverage (share kept, their accuracy) at a few minimum confidences:
    `coverage` of the calibrated confidence, which predictions at this α give (`flyp predict
    --min-confidence` compares it), `coverage_uncalibrated` of the raw softmax, and with a novelty
    score `coverage_with_novelty`, of the calibrated confidence lowered for unusual images (what
    a bundle's predictions compare); not the curves."""
    keys = ("n", "accuracy", "mean_confidence", "calibration_error", "calibration_error_calibrated",
            "calibration_error_with_novelty", "mean_confidence_with_novelty", "known")

    def at_thresholds(rows) -> list[dict]:
        return [r for r in rows if any(abs(r["threshold"] - t) < 1e-6 for t in SUMMARY_THRESHOLDS)]

    def summary(s: dict) -> dict:
        out = {k: s[k] for k in keys if k in s}
        out["coverage"] = at_thresholds(s.get("coverage", ()))
        for key in ("coverage_uncalibrated", "coverage_with_novelty"):
            if key in s:
                out[key] = at_thresholds(s[key])
        return out
    return {"alpha": report.get("alpha"), "temperature": report["temperature"],
            "temperature_fit": report.get("temperature_fit", "fitted"),
            "sets": {name: summary(s) for name, s in report["sets"].items()}}

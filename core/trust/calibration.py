"""Confidence that means what it says: temperature scaling fitted on ID validation only, and per
set the calibration error, the reliability diagram and the coverage/accuracy curve.

Temperature scaling (Guo et al., 2017) divides every logit by one T that minimises the negative
log-likelihood of the ID validation labels; it never changes which class wins. The different-
conditions sets are reported on, never fitted on. A novelty score (`core.trust.novelty`) lowers
the confidence of unusual images as predictions do: softmax(logits / (T·g)), g growing with
novelty (`core.trust.lowering`, fitted on ID validation too).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from core.errors import FlypError
from core.trust.temperature_range import clamp

BINS = 15            # reliability bins over [0, 1], as the calibration literature reports ECE
COVERAGE_POINTS = 21  # confidence thresholds 0, 0.05, … 1 for the coverage/accuracy curve


def fit_temperature(logits: torch.Tensor, labels: Sequence[int]) -> float:
    """The T > 0 minimising the NLL of softmax(logits / T) on `labels` (ID validation images),
    within `core.trust.temperature_range`'s range; 1 when every validation image is right."""
    return temperature_fit(logits, labels)["temperature"]


def temperature_fit(logits: torch.Tensor, labels: Sequence[int]) -> dict:
    """{"temperature", "temperature_fit"}: the T of `fit_temperature` and how it was found:
    "fitted"; "no validation errors" (kept at 1: with every image right the NLL falls as T → 0,
    without a minimum, and a fitted T would make every confidence 1.00 whatever the image);
    or "clamped" (the minimum lies outside [T_MIN, T_MAX], where confidences are all 0/1 or
    1/classes)."""
    labels = torch.as_tensor(labels, dtype=torch.long)
    if not len(labels):
        raise FlypError("no validation images to fit the calibration temperature on")
    logits = logits.double()
    if bool((logits.argmax(-1) == labels).all()):
        return {"temperature": 1.0, "temperature_fit": "no validation errors"}
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([log_t], lr=0.5, max_iter=100, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    optimiser.step(closure)
    fitted = float(log_t.detach().exp())
    kept = 1.0 if math.isnan(fitted) else clamp(fitted)
    return {"temperature": kept, "temperature_fit": "fitted" if kept == fitted else "clamped"}


def reliability(confidence: torch.Tensor, correct: torch.Tensor, bins: int = BINS) -> list[dict]:
    """Per confidence bin: its range, the images in it, their mean confidence and accuracy."""
    edges = torch.linspace(0, 1, bins + 1)
    index = torch.clamp(torch.bucketize(confidence.double(), edges.double(), right=True) - 1, 0, bins - 1)
    rows = []
    for b in range(bins):
        inside = index == b
        n = int(inside.sum())
        rows.append({"low": float(edges[b]), "high": float(edges[b + 1]), "n": n,
                     "confidence": float(confidence[inside].mean()) if n else None,
                     "accuracy": float(correct[inside].float().mean()) if n else None})
    return rows


def calibration_error(confidence: torch.Tensor, correct: torch.Tensor, bins: int = BINS) -> float:
    """The expected calibration error: the image-weighted mean |accuracy − confidence| over bins."""
    total = max(1, len(confidence))
    return sum(r["n"] / total * abs(r["accuracy"] - r["confidence"]) for r in reliability(confidence, correct, bins)
               if r["n"])


def coverage_curve(confidence: torch.Tensor, correct: torch.Tensor, points: int = COVERAGE_POINTS) -> list[dict]:
    """For each confidence threshold: the share of images at or above it and their accuracy (the
    images `_uncertain/` would not get)."""
    rows = []
    for t in torch.linspace(0, 1, points).tolist():
        kept = confidence >= t
        n = int(kept.sum())
        rows.append({"threshold": t, "coverage": n / max(1, len(confidence)),
                     "accuracy": float(correct[kept].float().mean()) if n else None})
    return rows


def set_report(logits: torch.Tensor, labels: Sequence[int], temperature: float,
               factor: torch.Tensor | None = None) -> dict:
    """One set's accuracy, calibration error before and after T (and with each image's novelty
    `factor` on T, as predictions lower the confidence of unusual images),
    reliability diagram and coverage curve (both calibrated), and the coverage curve of the
    confidence as predictions give it (before T: what sorting into `_uncertain/` compares); with
    `factor`, both coverage curves once novelty lowers the confidence (`*_with_novelty`)."""
    labels = torch.as_tensor(labels, dtype=torch.long)
    raw = logits.float().softmax(-1).max(-1)
    calibrated = (logits.float() / temperature).softmax(-1).max(-1).values
    correct = raw.indices == labels
    report = {"n": len(labels), "accuracy": float(correct.float().mean()) if len(labels) else math.nan,
              "calibration_error": calibration_error(raw.values, correct),
              "calibration_error_calibrated": calibration_error(calibrated, correct),
              "mean_confidence": float(calibrated.mean()),
              "reliability": reliability(calibrated, correct), "coverage": coverage_curve(calibrated, correct),
              "coverage_uncalibrated": coverage_curve(raw.values, correct)}
    if factor is not None:
        lowered = (logits.float() / (temperature * factor[:, None])).softmax(-1).max(-1).values
        report["mean_confidence_with_novelty"] = float(lowered.mean()) if len(labels) else math.nan
        report["calibration_error_with_novelty"] = calibration_error(lowered, correct)
        report["coverage_with_novelty"] = coverage_curve(lowered, correct)
        raw_lowered = (logits.float() / factor[:, None]).softmax(-1).max(-1).values  # a run not calibrated at α
        report["coverage_uncalibrated_with_novelty"] = coverage_curve(raw_lowered, correct)
    return report


def calibration_report(sets: dict[str, tuple[torch.Tensor, Sequence[int]]], novelty=None,
                       features: dict[str, torch.Tensor] | None = None) -> dict:
    """{temperature, temperature_fit, sets: {name: set_report}}: T fitted on the "id" set alone
    (`temperature_fit`), every set reported.
    With `novelty` and each set's `features`, also the error once novelty lowers the confidence and
    the share of the set's images the novelty threshold keeps as one of the classes ("known")."""
    if "id" not in sets:
        raise FlypError("calibration needs the ID validation set")
    fit = temperature_fit(*sets["id"])
    temperature, out = fit["temperature"], {}
    for name, (logits, labels) in sets.items():
        factor = scores = None
        if novelty is not None and features is not None:
            scores = novelty.score(features[name], logits)
            factor = novelty.factor(scores)
        out[name] = set_report(logits, labels, temperature, factor)
        if scores is not None and len(scores):
            out[name]["known"] = float(novelty.known(scores).float().mean())  # the share not "none of these"
    return fit | {"sets": out}

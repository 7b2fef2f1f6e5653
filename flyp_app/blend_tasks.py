"""Background work on a finished run blended at α: the Blend, Try, Export and Train pages. No Qt.

Each task takes plain values (never widgets) plus the worker's `progress`, `control` and `emit`
keywords, and returns plain results for the UI thread (`flyp_app.workers` runs them); the engine
is imported inside the tasks, lazily, so the window opens without it. What they keep between calls
is the app's one `flyp_app.caches.Caches`. Every other page has its own adapter module:
`data_tasks` (Data, Captions), `train_tasks`, `try_tasks`, `compare_tasks`, `label_tasks` (Label,
Try's whole folders), `check_tasks`, `trust_tasks`, `window_tasks`.
"""

from __future__ import annotations

from pathlib import Path

from core.weights.curve import CURVE_ALPHAS, cached_curve, weights_stamp
from flyp_app.caches import Caches

GALLERY_LIMIT = 120    # misclassified images shown per set (the most confident mistakes first)


def blend_curve(caches: Caches, run_dir: str, device: str = "auto", recompute: bool = False, cached_only: bool = False,
                progress=None, control=None, emit=None) -> list[dict] | None:
    """Metrics of every evaluation set at α = 0, 0.1, …, 1: [{"alpha", "sets": {name: metrics}}].

    Kept in memory and in the run folder (`blend_curve.json`, tied to the run's best weights),
    so reopening is instant. `cached_only` returns None instead of computing.
    """
    key = (str(Path(run_dir).resolve()), tuple(weights_stamp(run_dir)))
    if not recompute:
        curve = caches.curve(key) or cached_curve(run_dir)
        if curve is not None or cached_only:
            return caches.keep_curve(key, curve) if curve is not None else None
    if emit:
        emit("Loading the run and its evaluation images…")
    session = caches.blend_session(run_dir, device)
    with session.lock:
        if recompute:
            session.forget_sets()
        session.eval_sets(cancel=control)
        if emit:
            emit(f"Evaluating {len(CURVE_ALPHAS)} blends (α = 0, 0.1, …, 1)…")
        curve = session.curve(run_dir, progress=progress, cancel=control or (lambda: False))
    return caches.keep_curve(key, curve)


def evaluate_at(caches: Caches, run_dir: str, device: str, alpha: float, progress=None, control=None, emit=None) -> dict:
    """The exact blend at α on every evaluation set: metrics, the confusion matrix and the images
    of each of its cells (the engine's), every image's prediction with its confidence as
    predictions at α give it (calibrated; "calibrated", here and per set, says whether a temperature
    was there), and the misclassified ones (most confident mistakes first, the first
    `GALLERY_LIMIT` with thumbnails)."""
    from core.errors import Cancelled, FlypError
    from core.progress import no_cancel

    session = caches.blend_session(run_dir, device)
    results = {}
    with session.lock:
        if control is not None and control.cancelled():  # a newer request came while this one waited
            raise Cancelled()
        sets = session.eval_sets(cancel=control)
        names = session.blended.classifier.class_names
        temperature = session.temperature(alpha)
        for name, metrics in session.evaluate(alpha, control or no_cancel, temperature).items():
            samples = sets[name].samples
            images = [{"path": str(samples[i].path), "true": names[t], "predicted": names[p], "confidence": c}
                      for i, (t, p, c) in enumerate(zip(metrics.labels, metrics.predictions, metrics.confidences))]
            wrong = sorted((image for image in images if image["true"] != image["predicted"]),
                           key=lambda w: -w["confidence"])
            summary = metrics.to_json(full=True)
            results[name] = {"metrics": summary, "confusion": summary.pop("confusion"), "classes": list(names),
                             "cells": metrics.cells(), "images": images, "wrong": wrong,
                             "calibrated": temperature is not None}
    for result in results.values():  # thumbnails need no model: outside the lock
        for item in result["wrong"][:GALLERY_LIMIT]:
            if control is not None and control.cancelled():
                raise Cancelled()
            try:
                item["thumb"] = caches.thumbnail_png(item["path"])
            except FlypError:
                item["thumb"] = None
    return {"run": run_dir, "alpha": alpha, "sets": results, "calibrated": temperature is not None}


def export_model(caches: Caches, run_dir: str, device: str, alpha: float, out: str, onnx: bool,
                 progress=None, control=None, emit=None) -> dict:
    """Measure the blend at α on the run's sets (accuracy, then its confidence and "none of these"
    score: `core.export.write.measure_for_export`), then export and self-check it (core.export.write)."""
    from core.export.write import export_bundle, measure_for_export
    from core.progress import no_cancel

    session = caches.blend_session(run_dir, device)
    with session.lock:
        if emit:
            emit(f"Measuring the blend at α = {alpha:.2f}…")
        scores = session.evaluate(alpha, control or no_cancel)
        metrics = {name: {"accuracy": m.accuracy, "macro_f1": m.macro_f1, "n": m.n} for name, m in scores.items()}
        if emit:
            emit(f"Measuring how far its confidence can be trusted at α = {alpha:.2f}…")
        novelty = caches.run_novelty(session, alpha)
        session.at(alpha)
        novelty, calibration = measure_for_export(run_dir, session.blended, session.eval_sets(cancel=control), novelty,
                                                  cancel=control or no_cancel)
        if emit:
            emit("Writing the bundle" + (" and the ONNX file" if onnx else "") + ", then reloading it to check it…")
        report = export_bundle(session.blended, out, onnx=onnx, metrics=metrics, novelty=novelty,
                               calibration=calibration)
    return report | {"alpha": alpha, "metrics": metrics, "calibration": calibration}

"""The app's background work: every function a worker runs, and the caches they share. No Qt.

Each task takes plain values (never widgets) plus the worker's `progress`, `control` and `emit`
keywords, and returns plain results for the UI thread (`flyp_app.workers` runs them). torch and
open_clip are imported inside the tasks, lazily, so the window opens without them. What the
tasks keep between calls (the loaded model, image features, the run opened for blending, α
curves, thumbnails) lives in one `Caches` object that the app holds (`AppState.caches`); it is
safe to use from several worker threads at once. The Label page's tasks, and the Try page's whole
folders, are in `flyp_app.label_tasks`.
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

from core.weights.curve import CURVE_ALPHAS, cached_curve, weights_stamp
from core.weights.session import BlendSession  # noqa: F401  (Caches.blend_session's; imported from here before)
from flyp_app.curves import Curves
from flyp_app.words import MISSING, UNREADABLE, error_text, file_problem_text

THUMB_SIZE = 96        # gallery and list thumbnails (Blend's mistakes, Try's images)
CLASS_THUMB = 40       # the Data page's class table
GALLERY_LIMIT = 120    # misclassified images shown per set (the most confident mistakes first)
CLASSIFY_BATCH = 32    # Try page: images classified per step, each step sent to the window
AUGMENT_PREVIEWS = 4   # Train page: augmented views of one training image, side by side…
AUGMENT_PREVIEW = 72   # …of this size: four fit the settings column


class Caches:
    """What the tasks keep between calls, each part behind its own lock.

    One pretrained model (zero-shot numbers are asked for often), the zero-shot image features
    of a few sets, one run opened for blending, the α curves, and thumbnails.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._models: dict = {}
        self._features: dict = {}
        self._blend: dict = {}
        self._curves: dict = {}
        self._thumbs: dict = {}
        self._feature_caches: dict = {}
        self._novelty: dict = {}

    def feature_cache(self, model_key: str):
        """The on-disk image features of one model (`core.model.feature_cache`), opened once per session."""
        from core.model.feature_cache import FeatureCache

        with self._lock:
            if model_key not in self._feature_caches:
                self._feature_caches[model_key] = FeatureCache(model_key)
            return self._feature_caches[model_key]

    def model(self, name: str, pretrained: str | None, device: str = "auto", progress=None, cancel=None):
        """The pretrained model, loaded once (one model in memory at a time); `progress` and
        `cancel` follow a download from the Hugging Face Hub."""
        from core.model.loading import ModelSpec, load_model, select_device
        from core.progress import no_cancel

        key = (name, pretrained or None, device)
        with self._lock:
            if key not in self._models:
                self._models.clear()
                self._models[key] = load_model(ModelSpec(name, pretrained or None), select_device(device),
                                               progress=progress, cancel=cancel or no_cancel)
            return self._models[key]

    def zero_shot_features(self, classifier, samples, cancel):
        """The pretrained image features of `samples`, cached by model and by each file's path, size and time."""
        from core.data.loader import EvalImages

        loaded = classifier.loaded
        files = []
        for sample in samples:
            try:
                stat = sample.path.stat()
                files.append((str(sample.path), stat.st_size, stat.st_mtime_ns))
            except OSError:
                files.append((str(sample.path), None, None))  # gone since the scan: decoding will say so
        key = (loaded.spec, str(loaded.model.logit_scale.device), tuple(files))
        with self._lock:
            if key in self._features:
                return self._features[key]
        images = EvalImages(samples, loaded.image_size, loaded.preprocess["interpolation"], cancel)
        features = classifier.features(images, cancel=cancel)
        with self._lock:
            if len(self._features) >= 8:  # a few sets of one or two models
                self._features.pop(next(iter(self._features)))
            self._features[key] = features
        return features

    def blend_session(self, run_dir: str, device: str = "auto") -> BlendSession:
        """The run's BlendSession (one in memory at a time; reopened when the run's weights change)."""
        key = (str(Path(run_dir).resolve()), device, tuple(weights_stamp(run_dir)))
        with self._lock:
            if key not in self._blend:
                self._blend.clear()
                self._blend[key] = BlendSession.open(run_dir, device)
            return self._blend[key]

    def novelty(self, key: str, fit):
        """The novelty score ("none of these", `core.trust.novelty`) of the model named `key` (a
        predictor's key: weights and α), fitted by `fit()` once; None where it could not be fitted."""
        with self._lock:
            if key in self._novelty:
                return self._novelty[key]
        model = fit()  # outside the lock: it reads every training image's features
        with self._lock:
            if len(self._novelty) >= 8:
                self._novelty.pop(next(iter(self._novelty)))
            self._novelty[key] = model
        return model

    def run_novelty(self, session: BlendSession, alpha: float):
        """The novelty score of the session's run at α, fitted on its training images once."""
        from core.labelling.predictor import from_run

        with session.lock:
            predictor = from_run(session.blended, alpha)
            return self.novelty(predictor.key, predictor.novelty_model)

    def curve(self, key) -> list[dict] | None:
        with self._lock:
            return self._curves.get(key)

    def keep_curve(self, key, curve: list[dict]) -> list[dict]:
        with self._lock:
            self._curves[key] = curve
        return curve

    def thumbnail_png(self, path: str | Path | None = None, image=None, size: int = THUMB_SIZE) -> bytes:
        """A small PNG of an image file or of a PIL image, for lists and galleries. A file's is
        cached by path, size asked for and the file's time and length (an image replaced on disk
        gets a new thumbnail)."""
        from core.data.images import load_rgb

        key = _file_key(path, size) if image is None else None
        if key is not None:
            with self._lock:
                if key in self._thumbs:
                    return self._thumbs[key]
        picture = (image if image is not None else load_rgb(path, draft_size=size * 2)).copy()
        picture.thumbnail((size, size))
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        if key is not None:
            with self._lock:
                if len(self._thumbs) > 4000:
                    self._thumbs.clear()
                self._thumbs[key] = buffer.getvalue()
        return buffer.getvalue()


def _file_key(path, size: int) -> tuple | None:
    """A thumbnail's cache key: the file as it is now (None when it cannot be read: load_rgb says why)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return str(path), size, stat.st_mtime_ns, stat.st_size


# Start-up -------------------------------------------------------------------------------------
def import_engine(progress=None, control=None, emit=None) -> None:
    """Import torch, open_clip and the engine's heavy modules (at start-up, in the background), so
    that the first zero-shot measure or training does not wait for them. pyqtgraph is not among
    them: see `MainWindow._engine_ready`.

    (torch's C extension holds the GIL while it initialises: the window may pause for a few
    tenths of a second while it loads, at start-up rather than later.)
    """
    import core.model.classifier  # noqa: F401  (imports torch and open_clip)
    import core.training.loop  # noqa: F401


# Data and captions ----------------------------------------------------------------------------
def scan_project(train: str, val: str | None, ood: list[str], val_fraction: float, seed: int, exclude=(),
                 progress=None, control=None, emit=None):
    """Scan the folders (engine) and make a thumbnail per class: (Datasets, {folder: PNG bytes});
    the project's excluded images are left out."""
    from core.data.folders import load_datasets
    from core.data.images import load_rgb
    from core.progress import no_cancel, no_progress

    data = load_datasets(train, val or None, ood, val_fraction=val_fraction, seed=seed, exclude=exclude,
                         progress=progress or no_progress, cancel=control or no_cancel)
    thumbs = {}
    first = {}
    for sample in data.train:
        first.setdefault(sample.label, sample.path)
    for label, path in first.items():
        image = load_rgb(path, draft_size=CLASS_THUMB * 2)
        image.thumbnail((CLASS_THUMB, CLASS_THUMB))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        thumbs[data.classes[label]] = buffer.getvalue()
    return data, thumbs


def augmentation_preview(path: str, augment: str, count: int = AUGMENT_PREVIEWS, size: int = AUGMENT_PREVIEW,
                         progress=None, control=None, emit=None) -> list[bytes]:
    """One training image as `count` training steps would see it under the preset `augment`
    (the epochs' draws of the first image of a run with seed 0), as PNGs."""
    from core.data.images import load_rgb
    from core.data.transforms import augmented, sample_rng

    image = load_rgb(path)
    pictures = []
    for epoch in range(count):
        buffer = io.BytesIO()
        augmented(image, size, sample_rng(0, epoch, 0), augment=augment).save(buffer, format="PNG")
        pictures.append(buffer.getvalue())
    return pictures


def zero_shot(caches: Caches, model: str, pretrained: str | None, datasets, class_names: list[str], templates: list[str],
              progress=None, control=None, emit=None) -> dict:
    """Zero-shot accuracy of the chosen model on every evaluation set: {set: metrics json}.

    The pretrained image tower does not change while the user edits templates and class names,
    so each set's image features are computed once (per model and files) and reused: measuring
    again after an edit only re-encodes the captions.
    """
    from core.data.captions import validate_templates
    from core.model.classifier import Classifier
    from core.model.evaluate import compute_metrics
    from core.progress import check_cancel

    templates = validate_templates(templates)
    downloaded = (lambda done, total: emit({"type": "download", "model": model, "done": done, "total": total})
                  ) if emit else None
    loaded = caches.model(model, pretrained, progress=downloaded, cancel=control)
    classifier = Classifier(loaded, class_names, templates)
    cancel = control or (lambda: False)
    results = {}
    sets = {name: s for name, s in datasets.eval_sets().items() if s}
    for i, (name, samples) in enumerate(sets.items()):
        check_cancel(cancel)
        features = caches.zero_shot_features(classifier, samples, cancel)
        logits = classifier.logits_from_features(features)
        results[name] = compute_metrics(logits, [s.label for s in samples], class_names).to_json(full=True)
        if progress:
            progress(i + 1, len(sets))
    return results


# Training -------------------------------------------------------------------------------------
def zero_shot_of_runs(runs: list[str], wanted: dict, progress=None, control=None, emit=None) -> tuple[str, dict] | None:
    """The zero-shot accuracy measured at the start of the newest run trained with the `wanted`
    model, templates, class names and folders: (run name, {set: metrics}), or None."""
    from core.errors import FlypError
    from core.training.runs import RunDir

    for path in reversed(runs):
        try:
            info = RunDir(path).read_info()
            config = info["config"]
            used = {"model": config["model"], "pretrained": config.get("pretrained") or "",
                    "templates": info["templates"], "class_names": info["class_names"],
                    **{key: config.get(key) for key in ("train_dir", "val_dir", "ood_dirs", "val_fraction", "seed")}}
        except (FlypError, KeyError, TypeError):
            continue
        if used == wanted and isinstance(info.get("zeroshot"), dict) and info["zeroshot"]:
            return Path(path).name, info["zeroshot"]
    return None


def run_training(config, run_dir: str, resume: bool = False, progress=None, control=None, emit=None) -> dict:
    """Train in a worker; on resume, first send the run's earlier curves (read here, off the UI thread)."""
    from core.training.loop import train

    def on_event(event: dict) -> None:
        if resume and event.get("type") == "start":  # the metrics file is cut back to the saved step by now
            from core.training.runs import RunDir

            emit({"type": "history", "curves": Curves.from_records(RunDir(run_dir).read_metrics())})
        emit(event)

    return train(config, run_dir, resume=resume, on_event=on_event, control=control)


def run_auto(config, run_dir: str, budget_s: float | None, train_images: int | None, progress=None, control=None,
             emit=None) -> dict:
    """The automatic mode in a worker: trials, then the final run (`core.training.auto`)."""
    from core.training.auto import auto_train

    return auto_train(config, run_dir, budget_s, train_images=train_images, on_event=emit, control=control)


def run_advice(run_dir: str, progress=None, control=None, emit=None) -> tuple[list, dict]:
    """The advice drawn from a finished (or failed) run's curves, and the settings it ran with."""
    from core.training.advice import advise
    from core.training.runs import RunDir

    return advise(run_dir), RunDir(run_dir).read_info().get("config", {})


def read_run_summaries(paths: list[str], progress=None, control=None, emit=None) -> list[dict]:
    """For each run folder: name, model, method, status, zero-shot and best ID accuracy, error."""
    from core.errors import FlypError
    from core.training.runs import RunDir, RunStatus, run_name

    summaries = []
    for path in paths:
        run = RunDir(path)
        summary = {"path": path, "name": Path(path).name, "status": MISSING, "model": "", "method": "",
                   "zero_shot": None, "best": None, "error": "", "stopped_early": False}
        try:
            info = run.read_info()
        except FlypError as exc:
            summary.update(status=UNREADABLE if run.path.is_dir() else MISSING, error=error_text(exc))
        else:
            config, best = info.get("config", {}), info.get("best") or {}
            summary.update(name=run_name(path, info), status=RunStatus.of(info) or UNREADABLE,
                           stopped_early=bool(info.get("stopped_early")),
                           method=config.get("method", ""),
                           model=_model_text(config.get("model", ""), config.get("pretrained")),
                           zero_shot=(info.get("zeroshot") or {}).get("id", {}).get("accuracy"),
                           best=best.get("id_accuracy"), error=info.get("error", ""))
        summaries.append(summary)
    return summaries


def read_curves(path: str, progress=None, control=None, emit=None) -> tuple[str, Curves]:
    from core.training.runs import RunDir

    return path, Curves.from_records(RunDir(path).read_metrics())


def _model_text(model: str, pretrained: str | None) -> str:
    if not pretrained or model == "demo":
        return model
    tag = Path(pretrained).name if ("/" in pretrained or "\\" in pretrained) else pretrained
    return f"{model} ({tag})"


# Blending a finished run: the Blend, Try and Export pages -------------------------------------
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
    of each of its cells (the engine's), every image's prediction, and the misclassified ones
    (most confident mistakes first, the first `GALLERY_LIMIT` with thumbnails)."""
    from core.errors import Cancelled, FlypError
    from core.progress import no_cancel

    session = caches.blend_session(run_dir, device)
    results = {}
    with session.lock:
        if control is not None and control.cancelled():  # a newer request came while this one waited
            raise Cancelled()
        sets = session.eval_sets(cancel=control)
        names = session.blended.classifier.class_names
        for name, metrics in session.evaluate(alpha, control or no_cancel).items():
            samples = sets[name].samples
            images = [{"path": str(samples[i].path), "true": names[t], "predicted": names[p], "confidence": c}
                      for i, (t, p, c) in enumerate(zip(metrics.labels, metrics.predictions, metrics.confidences))]
            wrong = sorted((image for image in images if image["true"] != image["predicted"]),
                           key=lambda w: -w["confidence"])
            summary = metrics.to_json(full=True)
            results[name] = {"metrics": summary, "confusion": summary.pop("confusion"), "classes": list(names),
                             "cells": metrics.cells(), "images": images, "wrong": wrong}
    for result in results.values():  # thumbnails need no model: outside the lock
        for item in result["wrong"][:GALLERY_LIMIT]:
            if control is not None and control.cancelled():
                raise Cancelled()
            try:
                item["thumb"] = caches.thumbnail_png(item["path"])
            except FlypError:
                item["thumb"] = None
    return {"run": run_dir, "alpha": alpha, "sets": results}


def expand_paths(paths: list[str], progress=None, control=None, emit=None) -> tuple[list[str], list[tuple[str, str]]]:
    """Files to classify: chosen files as they are, folders' image files (recursively, sorted).

    Returns (files, [(path, reason)] for what cannot be used).
    """
    from core.errors import FlypError
    from core.labelling.classify import image_files

    files, rejected = [], []
    for path in paths:
        try:
            found = [str(p) for p in image_files([path])]
        except FlypError:
            rejected.append((str(path), "no such file"))
            continue
        files += found
        if not found:
            rejected.append((str(path), "no image files in this folder"))
    return files, rejected


def classify_items(caches: Caches, run_dir: str, device: str, alpha: float, target: tuple, items: list[dict],
                   progress=None, control=None, emit=None) -> None:
    """Class probabilities of `items` at α, sent to the UI a batch at a time through `emit`.

    An item is {"key", "name", "path", "data", "pixels", "has_thumb"}; each answer is
    {"key", "probs", "novelty"} plus "pixels" and "thumb" when the image was decoded now, or
    {"key", "error"}. Each batch also carries "threshold", the novelty above which an image is
    like none of the classes (chosen on ID validation; None, and "novelty" None, without a score).
    """
    from core.errors import Cancelled, FlypError
    from core.data.transforms import eval_new_image, open_new_image

    session = caches.blend_session(run_dir, device)
    loaded = session.blended.classifier.loaded
    size, interpolation = loaded.image_size, loaded.preprocess["interpolation"]
    novelty = caches.run_novelty(session, alpha)
    for start in range(0, len(items), CLASSIFY_BATCH):
        if control is not None and control.cancelled():
            raise Cancelled()
        answers, good = [], []
        for item in items[start:start + CLASSIFY_BATCH]:
            answer = {"key": item["key"]}
            answers.append(answer)
            pixels = item["pixels"]
            if pixels is None or tuple(pixels.shape[-2:]) != (size, size):
                where = item["path"] or item["name"]
                try:
                    image = open_new_image(where, size, data=item["data"])
                except FlypError as exc:
                    answer["error"] = file_problem_text(exc)
                    continue
                pixels = answer["pixels"] = eval_new_image(image, size, interpolation)
                if not item["has_thumb"]:
                    answer["thumb"] = caches.thumbnail_png(image=image)
            good.append((answer, pixels))
        if good:
            probs, scores = session.predict(alpha, [p for _, p in good], novelty)
            for (answer, _), p, s in zip(good, probs, scores):
                answer["probs"], answer["novelty"] = p, s
        if emit is not None:
            emit({"target": target, "classes": session.class_names, "answers": answers,
                  "threshold": None if novelty is None else novelty.threshold})
        if progress is not None:
            progress(min(len(items), start + CLASSIFY_BATCH), len(items))


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


# Comparing runs -------------------------------------------------------------------------------
def compare_rows(paths: list[str], device: str, progress=None, control=None, emit=None) -> list[dict]:
    """Rows of `core.weights.compare.compare_runs`; each is also sent as (index, row) when ready."""
    from core.weights.compare import compare_runs
    from core.model.loading import select_device
    from core.progress import no_cancel

    return compare_runs(paths, select_device(device), progress=progress or (lambda *_: None),
                        cancel=control or no_cancel, on_row=(lambda i, row: emit((i, row))) if emit else None)


def soup_run(paths: list[str], out: str, greedy: bool, device: str, progress=None, control=None, emit=None) -> dict:
    """Average the runs into the new run folder `out` (core.weights.soups); its run.json, and "path"."""
    from core.model.loading import select_device
    from core.progress import no_cancel
    from core.weights.soups import make_soup

    say = (lambda e: emit(e["message"]) if emit and e.get("type") == "status" else None)
    return make_soup(paths, out, greedy=greedy, device=select_device(device), on_event=say,
                     cancel=control or no_cancel) | {"path": out}


def prepare_demo_project(progress=None, control=None, emit=None) -> str:
    """The demo project's file (its folders are written on first use)."""
    from core.demo.story import demo_project_file

    return str(demo_project_file(progress=progress, cancel=control))

"""Engine calls the pages run in workers. torch and open_clip are imported here, lazily.

Each function takes plain values (never widgets) plus the worker's `progress`, `control` and
`emit` keywords, and returns plain results for the UI thread.
"""

from __future__ import annotations

import threading
from pathlib import Path

# The α-curve cache (file, α grid, weights stamp) is core.weights.compare's, plain Python without torch:
# `flyp compare`, the Compare page and the Blend page read and write the same blend_curve.json.
from core.weights.compare import CURVE_ALPHAS, CURVE_FILE, cached_curve, weights_stamp

_models: dict = {}
_models_lock = threading.Lock()


def cached_model(name: str, pretrained: str | None, device: str = "auto"):
    """The pretrained model (loaded once per session): zero-shot numbers are asked for often."""
    from core.model.loading import ModelSpec, load_model, select_device

    key = (name, pretrained or None, device)
    with _models_lock:
        if key not in _models:
            _models.clear()  # keep one model in memory
            _models[key] = load_model(ModelSpec(name, pretrained or None), select_device(device))
        return _models[key]


def zero_shot(model: str, pretrained: str | None, datasets, class_names: list[str], templates: list[str],
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
    loaded = cached_model(model, pretrained)
    classifier = Classifier(loaded, class_names, templates)
    cancel = control or (lambda: False)
    results = {}
    sets = {name: s for name, s in datasets.eval_sets().items() if s}
    for i, (name, samples) in enumerate(sets.items()):
        check_cancel(cancel)
        features = _zero_shot_features(classifier, samples, cancel)
        logits = classifier.logits_from_features(features)
        results[name] = compute_metrics(logits, [s.label for s in samples], class_names).to_json(full=True)
        if progress:
            progress(i + 1, len(sets))
    return results


_features: dict = {}


def _zero_shot_features(classifier, samples, cancel):
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
    if key not in _features:
        images = EvalImages(samples, loaded.image_size, loaded.preprocess["interpolation"], cancel)
        features = classifier.features(images, cancel=cancel)
        if len(_features) >= 8:  # a few sets of one or two models
            _features.pop(next(iter(_features)))
        _features[key] = features
    return _features[key]


# Blending a finished run: shared by the Blend, Try and Export pages --------------------------------
THUMB_SIZE = 96
_blend: dict = {}
_blend_lock = threading.Lock()
_curves: dict = {}
_thumbs: dict = {}


class BlendSession:
    """A run opened for blending: one model whose weights are set to θ(α) on demand.

    A worker holds `lock` from `at(alpha)` until it is done with the classifier, so pages that
    want different α never see each other's weights. The evaluation sets decode on first use.
    """

    def __init__(self, blended):
        self.blended = blended
        self.lock = threading.RLock()
        self._sets = None

    def at(self, alpha: float):
        """The classifier with θ(α) loaded (call with `lock` held)."""
        if self.blended.alpha != alpha:
            self.blended.set_alpha(alpha)
        return self.blended.classifier

    def eval_sets(self, cancel=None) -> dict:
        """{set name: core.data.loader.EvalImages}: the run's validation and different-conditions sets."""
        if self._sets is None:
            from core.weights.blend import run_eval_sets

            self._sets = run_eval_sets(self.blended.info, **({"cancel": cancel} if cancel is not None else {}))
        return self._sets


def blend_session(run_dir: str, device: str = "auto") -> BlendSession:
    """The run's BlendSession (one in memory at a time; reopened when the run's weights change)."""
    from core.weights.blend import open_run
    from core.model.loading import select_device

    key = (str(Path(run_dir).resolve()), device, tuple(weights_stamp(run_dir)))
    with _blend_lock:
        if key not in _blend:
            _blend.clear()
            blended = open_run(run_dir, "best", select_device(device))
            # The checkpoint loads on the CPU; keep both ends where the model is, so that
            # blending on a GPU does not mix devices.
            target = blended.classifier.device
            blended.finetuned = {k: v.to(target) for k, v in blended.finetuned.items()}
            _blend[key] = BlendSession(blended)
        return _blend[key]


def blend_curve(run_dir: str, device: str = "auto", recompute: bool = False, cached_only: bool = False,
                progress=None, control=None, emit=None) -> list[dict] | None:
    """Metrics of every evaluation set at α = 0, 0.1, …, 1: [{"alpha", "sets": {name: metrics}}].

    Kept in memory and in the run folder (`blend_curve.json`, tied to the run's best weights),
    so reopening is instant. `cached_only` returns None instead of computing.
    """
    from core import atomic
    from core.weights.blend import alpha_curve
    from core.errors import FlypError

    stamp = weights_stamp(run_dir)
    path = Path(run_dir) / CURVE_FILE
    key = (str(path.resolve()), tuple(stamp))
    if not recompute:
        if key not in _curves and (cached := cached_curve(run_dir)) is not None:
            _curves[key] = cached
        if key in _curves or cached_only:
            return _curves.get(key)
    if emit:
        emit("Loading the run and its evaluation images…")
    session = blend_session(run_dir, device)
    with session.lock:
        sets = session.eval_sets(cancel=control)
        if emit:
            emit(f"Evaluating {len(CURVE_ALPHAS)} blends (α = 0, 0.1, …, 1)…")
        curve = alpha_curve(session.blended, sets, CURVE_ALPHAS, progress=progress or (lambda *_: None),
                            cancel=control or (lambda: False))
    for point in curve:
        for metrics in point["sets"].values():
            metrics.pop("confusion", None)  # C×C per set and α: too big to keep for many classes
    try:
        atomic.write_json(path, {"format": 1, "weights": stamp, "alphas": list(CURVE_ALPHAS), "curve": curve})
    except FlypError:
        pass  # a read-only run folder: the curve is still kept in memory for this session
    _curves[key] = curve
    return curve


def thumbnail_png(path: str | Path | None = None, image=None, size: int = THUMB_SIZE) -> bytes:
    """A small PNG of an image file (cached by path) or of a PIL image, for lists and galleries."""
    import io

    from core.data.images import load_rgb

    if image is None and str(path) in _thumbs:
        return _thumbs[str(path)]
    picture = (image if image is not None else load_rgb(path, draft_size=size * 2)).copy()
    picture.thumbnail((size, size))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    if image is None:
        if len(_thumbs) > 4000:
            _thumbs.clear()
        _thumbs[str(path)] = buffer.getvalue()
    return buffer.getvalue()

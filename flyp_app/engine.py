"""Engine calls the pages run in workers. torch and open_clip are imported here, lazily.

Each function takes plain values (never widgets) plus the worker's `progress`, `control` and
`emit` keywords, and returns plain results for the UI thread.
"""

from __future__ import annotations

import threading

_models: dict = {}
_models_lock = threading.Lock()


def cached_model(name: str, pretrained: str | None, device: str = "auto"):
    """The pretrained model (loaded once per session): zero-shot numbers are asked for often."""
    from core.models import ModelSpec, load_model, select_device

    key = (name, pretrained or None, device)
    with _models_lock:
        if key not in _models:
            _models.clear()  # keep one model in memory
            _models[key] = load_model(ModelSpec(name, pretrained or None), select_device(device))
        return _models[key]


def zero_shot(model: str, pretrained: str | None, datasets, class_names: list[str], templates: list[str],
              progress=None, control=None, emit=None) -> dict:
    """Zero-shot accuracy of the chosen model on every evaluation set: {set: metrics json}."""
    from core.captions import validate_templates
    from core.classifier import Classifier
    from core.loader import EvalImages

    templates = validate_templates(templates)
    loaded = cached_model(model, pretrained)
    classifier = Classifier(loaded, class_names, templates)
    results = {}
    sets = {name: s for name, s in datasets.eval_sets().items() if s}
    for i, (name, samples) in enumerate(sets.items()):
        if control is not None and control.cancelled():
            from core.errors import Cancelled
            raise Cancelled()
        images = EvalImages(samples, loaded.image_size, loaded.preprocess["interpolation"])
        results[name] = classifier.evaluate(images, cancel=control or (lambda: False)).to_json(full=True)
        if progress:
            progress(i + 1, len(sets))
    return results

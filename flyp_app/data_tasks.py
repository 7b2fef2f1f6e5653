"""The Data and Captions pages' background work: the folders scanned (with a thumbnail per class),
and the zero-shot accuracy, measured or read back from a run that measured it. No Qt; run like
every task (`flyp_app.workers`).
"""

from __future__ import annotations

import io
from pathlib import Path

from flyp_app.caches import Caches

CLASS_THUMB = 40       # the Data page's class table


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

"""Background work for new images: the Label page's thumbnails and suggestions, and the Try
page's whole folders (classified, saved as CSV, sorted). No Qt; run like every task
(`flyp_app.workers`), with the one `flyp_app.caches.Caches`.
"""

from __future__ import annotations

from flyp_app.caches import Caches

LABEL_THUMB = 88       # the Label page's grid
THUMB_BATCH = 48       # thumbnails sent to the window at a time


def scan_unlabelled(folder: str, progress=None, control=None, emit=None):
    """The usable images under `folder` (any depth) and the files skipped, with reasons."""
    from core.data.folders import scan_images

    return scan_images(folder, progress=progress or (lambda *_: None), cancel=control or (lambda: False))


def thumbnails(caches: Caches, paths: list[str], size: int = LABEL_THUMB, progress=None, control=None,
               emit=None) -> None:
    """Small PNGs of `paths`, sent as {path: bytes} a batch at a time (unreadable ones left out)."""
    from core.errors import FlypError

    batch = {}
    for i, path in enumerate(paths, 1):
        if control is not None and control.cancelled():
            return
        try:
            batch[path] = caches.thumbnail_png(path, size=size)
        except FlypError:
            pass
        if len(batch) >= THUMB_BATCH or i == len(paths):
            emit(batch)
            batch = {}


def zero_shot_source(project, classes: list[str], names: list[str]) -> dict:
    """The source `open_source` takes for the project's model as pretrained, over `classes`
    (folder names) shown as `names`, captioned with the project's templates."""
    return {"kind": "zero-shot", "model": project.model, "pretrained": project.pretrained or None,
            "classes": list(classes), "names": list(names), "templates": list(project.templates)}


def open_source(caches: Caches, source: dict, device: str):
    """The Predictor for `source`: {"kind": "zero-shot", "model", "pretrained", "classes", "names",
    "templates"} or {"kind": "run", "path", "alpha"} (a run shares its weights with the Blend and
    Try pages: every batch takes the run's lock and sets its α)."""
    from core.labelling import predictor as predictors

    if source["kind"] == "zero-shot":
        loaded = caches.model(source["model"], source["pretrained"], device)
        return predictors.zero_shot(loaded, source["classes"], source["templates"], source["names"])
    session = caches.blend_session(source["path"], device)
    alpha = source["alpha"]
    with session.lock:
        predictor = predictors.from_run(session.blended, alpha)
    encode, head = predictor.encode, predictor.head

    def locked(fn):
        def call(*args):
            with session.lock:
                session.at(alpha)
                return fn(*args)
        return call
    predictor.encode, predictor.head = locked(encode), locked(head)
    if predictor.text is not None:  # search and shortcuts caption through the blended text tower too
        predictor.text = locked(predictor.text)
    if predictor.fit_novelty is not None:  # fitted once per run and α, whoever asks first (Try, Label)
        fit = predictor.fit_novelty
        predictor.fit_novelty = lambda: caches.novelty(predictor.key, fit)
    return predictor


def suggest(caches: Caches, source: dict, device: str, files: list[str], labelled: list[tuple[str, str]], classes: list[str],
            progress=None, control=None, emit=None) -> dict:
    """Suggestions for `files` over `classes` (class folder names), by
    `core.labelling.suggest.suggest_labels`: sends {"probs": {path: [p per class]}, "final": bool}
    as they arrive, then, for a run (whose training images say what its classes look like),
    {"known": {path: False for an image like none of the classes, else True}}. Returns
    {"description", "learned_from", "accuracy"} (the suggestions' out-of-fold accuracy on the
    labelled images, None with too few of them)."""
    from core.labelling.suggest import suggest_labels
    from core.trust.fitting import known_files

    predictor = open_source(caches, source, device)
    cache = caches.feature_cache(predictor.key)
    learned = suggest_labels(predictor, files, labelled, classes, cache=cache,
                             on_batch=lambda probs, final: emit({"probs": probs, "final": final}),
                             progress=progress, cancel=control)
    if source["kind"] == "run" and (known := known_files(predictor, files, cache=cache, cancel=control)):
        emit({"probs": {}, "known": known})
    return {"description": predictor.description, "learned_from": learned.learned_from,
            "accuracy": learned.accuracy}


def classify_folder(caches: Caches, run_dir: str, device: str, alpha: float, folder: str, progress=None, control=None,
                    emit=None) -> dict:
    """Classify every image under `folder` with the run at α, sending lists of
    `core.labelling.classify.Prediction` a batch at a time. Returns {"description", "count", "warnings"}
    (what the user is told about the run: its training folder changed since, say)."""
    from core.labelling.classify import classify_files, image_files

    files = image_files([folder])
    predictor = open_source(caches, {"kind": "run", "path": run_dir, "alpha": alpha}, device)
    for batch in classify_files(files, predictor, top_k=3, cache=caches.feature_cache(predictor.key),
                                progress=progress or (lambda *_: None), cancel=control or (lambda: False)):
        emit(batch)
    return {"description": predictor.description, "count": len(files), "warnings": predictor.warnings()}


def export_csv(predictions: list, out: str, progress=None, control=None, emit=None) -> str:
    from core.labelling.classify import write_csv

    write_csv(predictions, out, 3)
    return out


def sort_folder(predictions: list, folder: str, min_confidence: float, progress=None, control=None, emit=None):
    from core.labelling.classify import sort_into

    return sort_into(predictions, folder, min_confidence, progress=progress or (lambda *_: None),
                     cancel=control or (lambda: False))


def folder_scores(folder: str, run_path: str, predictions: list) -> dict | None:
    """A classified folder scored against its class sub-folders (named as the run's class folders),
    or None when it has none: Classify a folder on a labelled folder is an evaluation."""
    from core.errors import FlypError
    from core.model.scores import labelled_folder_scores
    from core.training.runs import RunDir

    try:
        info = RunDir(run_path).read_info()
    except FlypError:
        return None
    folder_of = dict(zip(info.get("class_names") or info["classes"], info["classes"]))
    predicted = {str(p.path): folder_of.get(p.label, p.label) for p in predictions if p.top}
    return labelled_folder_scores(folder, predicted, info["classes"])

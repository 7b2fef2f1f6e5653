"""The Try page's background work: the files to classify found under dropped paths, and their class
probabilities at α, a batch at a time. No Qt; run like every task (`flyp_app.workers`). Whole
folders are classified by `flyp_app.label_tasks.classify_folder`.
"""

from __future__ import annotations

from flyp_app.caches import Caches
from flyp_app.words import UNCALIBRATED, file_problem_text

CLASSIFY_BATCH = 32    # images classified per step, each step sent to the window


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


def calibrated_at(run_dir: str, alpha: float) -> bool:
    """Whether predictions of the run at α are calibrated (`core.trust.temperature.run_temperature`:
    no model is loaded, two small files are read), so that raw answers can be asked again."""
    from core.trust.temperature import run_temperature

    return run_temperature(run_dir, alpha) is not None


def classify_items(caches: Caches, run_dir: str, device: str, alpha: float, target: tuple, items: list[dict],
                   progress=None, control=None, emit=None) -> None:
    """Class probabilities of `items` at α, sent to the UI a batch at a time through `emit`.

    An item is {"key", "name", "path", "data", "pixels", "has_thumb"}; each answer is
    {"key", "probs", "novelty"} plus "pixels" and "thumb" when the image was decoded now, or
    {"key", "error"}. Each batch also carries "threshold", the novelty above which an image is
    like none of the classes (chosen on ID validation; None, and "novelty" None, without a score),
    "warnings", what the user is told about the run (its training folder changed since, say; its
    confidence not calibrated at this α, `flyp_app.words.UNCALIBRATED`), and "calibrated", whether
    the probabilities were divided by a temperature (`core.weights.session.BlendSession.temperature`:
    the run's kept one at α, or the one its novelty score fitted on its validation images at α).
    """
    from core.errors import Cancelled, FlypError
    from core.data.transforms import eval_new_image, open_new_image

    session = caches.blend_session(run_dir, device)
    loaded = session.blended.classifier.loaded
    size, interpolation = loaded.image_size, loaded.preprocess["interpolation"]
    novelty = caches.run_novelty(session, alpha)
    warnings, temperature = list(getattr(novelty, "warnings", ())), session.temperature(alpha, novelty)
    calibrated = temperature is not None
    if not calibrated:
        warnings.append(UNCALIBRATED)
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
            probs, scores = session.predict(alpha, [p for _, p in good], novelty, temperature)
            for (answer, _), p, s in zip(good, probs, scores):
                answer["probs"], answer["novelty"] = p, s
        if emit is not None:
            emit({"target": target, "classes": session.class_names, "answers": answers,
                  "threshold": None if novelty is None else novelty.threshold,
                  "warnings": warnings, "calibrated": calibrated})
        if progress is not None:
            progress(min(len(items), start + CLASSIFY_BATCH), len(items))

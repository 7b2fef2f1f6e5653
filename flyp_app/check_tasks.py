"""Background work for reviewing labels: the Data page's label check (suspicious labels, copies,
bad images, shortcuts) and its search by words or by example, and the list of the Blend page's
gallery saved as CSV. No Qt; run like every task (`flyp_app.workers`), with the one
`flyp_app.caches.Caches` (thumbnails come from `flyp_app.label_tasks.thumbnails`).
"""

from __future__ import annotations

from flyp_app.caches import Caches

SEARCH_TOP = 120  # the most similar images a search shows


def check_labels(caches: Caches, folders: dict, source: dict, device: str, concepts: list[str] = (),
                 progress=None, control=None, emit=None):
    """`core.checks.report.check_folders` on the project's folders with the project's model,
    zero-shot (a model finetuned on these labels would have learnt their mistakes).

    `folders`: {"train", "val" (or None), "ood" (a list), "exclude", "kept"} as absolute paths;
    `source`: {"model", "pretrained", "classes", "names", "templates"} as the Label page's;
    `concepts`: the user's own shortcut concepts, beside the default ones.
    Returns the CheckReport. Nothing on disk changes but the feature cache.
    """
    from core.checks.report import check_folders
    from core.labelling import predictor as predictors
    from core.progress import no_cancel, no_progress

    cancel = control or no_cancel
    if emit:
        emit("Loading the model…")
    loaded = caches.model(source["model"], source["pretrained"], device, cancel=cancel)
    predictor = predictors.zero_shot(loaded, source["classes"], source["templates"], source["names"])
    if emit:
        emit("Checking the images…")
    return check_folders(folders["train"], predictor, val_dir=folders["val"], ood_dirs=folders["ood"],
                         exclude=folders["exclude"], kept=folders["kept"], zero_shot=True, concepts=concepts,
                         progress=progress or no_progress, cancel=cancel)


def search_images(caches: Caches, folders: list[str], source: dict, device: str, text: str | None = None,
                  image: str | None = None, top: int = SEARCH_TOP, progress=None, control=None, emit=None) -> dict:
    """The images under `folders` most similar to the phrase `text` or to the example file `image`
    (one of the two), by `core.explore.search.search` through the model of `source` (as
    `flyp_app.label_tasks.open_source`: the project's model, or a run at the Blend page's α).

    Returns {"description": the model in words, "searched": images compared, "matches": [(path,
    similarity)], most similar first, `top` at most}. FlypError naming the folders or the file."""
    from core.errors import FlypError
    from core.explore.search import image_paths, search
    from core.progress import no_cancel, no_progress
    from flyp_app.label_tasks import open_source

    cancel = control or no_cancel
    say = emit or (lambda _: None)
    say("Finding the project's images…")
    paths = image_paths(folders, cancel=cancel)
    if not paths:
        raise FlypError(f"{', '.join(folders)}: no images to search in")
    say("Loading the model…")
    predictor = open_source(caches, source, device)
    say(f"Comparing {len(paths)} images…")
    matches = search(paths, predictor, text=text, image=image, top=top, progress=progress or no_progress,
                     cancel=cancel)
    return {"description": predictor.description, "searched": len(paths),
            "matches": [(m.path, m.similarity) for m in matches]}


def save_predictions(rows: list[dict], out: str, progress=None, control=None, emit=None) -> str:
    """Write `rows` ({"path", "label", "predicted", "confidence"}) as a CSV at `out`, atomically."""
    from core import atomic
    from core.model.evaluate import predictions_csv

    atomic.write_text(out, predictions_csv(rows))
    return out

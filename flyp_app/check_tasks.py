"""Background work for reviewing labels: the Data page's label check, and the list of the Blend
page's gallery saved as CSV. No Qt; run like every task (`flyp_app.workers`), with the one
`flyp_app.caches.Caches` (thumbnails come from `flyp_app.label_tasks.thumbnails`).
"""

from __future__ import annotations

from flyp_app.caches import Caches


def check_labels(caches: Caches, folders: dict, source: dict, device: str, progress=None, control=None,
                 emit=None):
    """`core.checks.report.check_folders` on the project's folders with the project's model,
    zero-shot (a model finetuned on these labels would have learnt their mistakes).

    `folders`: {"train", "val" (or None), "ood" (a list), "exclude", "kept"} as absolute paths;
    `source`: {"model", "pretrained", "classes", "names", "templates"} as the Label page's.
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
                         exclude=folders["exclude"], kept=folders["kept"], zero_shot=True,
                         progress=progress or no_progress, cancel=cancel)


def save_predictions(rows: list[dict], out: str, progress=None, control=None, emit=None) -> str:
    """Write `rows` ({"path", "label", "predicted", "confidence"}) as a CSV at `out`, atomically."""
    from core import atomic
    from core.model.evaluate import predictions_csv

    atomic.write_text(out, predictions_csv(rows))
    return out

"""The Train page's background work: training (by hand or automatic), the run history and curves read
from run folders, the advice after a run, and the augmentation preview. No Qt; run like every task
(`flyp_app.workers`).
"""

from __future__ import annotations

import io
from pathlib import Path

from flyp_app.curves import Curves
from flyp_app.words import MISSING, UNREADABLE, error_text

AUGMENT_PREVIEWS = 4   # augmented views of one training image, side by side…
AUGMENT_PREVIEW = 72   # …of this size: four fit the settings column


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

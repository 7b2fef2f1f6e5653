"""The app's words for the engine's settings: errors say the labels the user sees, never options.

The engine names a setting in a message as «name» (`core.errors`); the command line words it as
its option (--lr), the app as the label of the control that sets it (Learning rate).
"""

from __future__ import annotations

from core.errors import FileError, FlypError
from core.training.config import settings
from core.training.runs import RunStatus

# Names the engine uses besides TrainConfig's fields, as the app's controls call them.
OTHER_LABELS = {
    "train_dir": "Training folder (Data page)",
    "val_dir": "Validation folder (Data page)",
    "ood_dirs": "Different conditions (Data page)",
    "templates": "Caption templates (Captions page)",
    "class_names": "the class names (Data page)",
    "model": "Model",
    "pretrained": "Pretrained weights",
    "weights_file": "a weights file (Train page: Model → Weights → Browse…)",
    "resume": "Resume (Train page)",
    "out": "run folder",
    "alpha": "α",
    "novelty": "the check for images of none of the classes",
    "keep": "the share of validation images kept as one of the classes",
    "class": "the class shown",
    "keep_within": "the points the control set may lose",
    "alphas": "α values",
    "onnx": "Also ONNX (Export page)",
    "offline_mode": "offline mode (no downloads on this computer)",
}


def label(name: str) -> str:
    """The label the user sees for a setting."""
    if name in OTHER_LABELS:
        return OTHER_LABELS[name]
    known = settings()
    return known[name].label if name in known else name.replace("_", " ")


def error_text(exc: BaseException) -> str:
    """An error as the app shows it: the engine's message with the app's names for settings."""
    return exc.worded(label) if isinstance(exc, FlypError) else str(exc)


def sentence(text: str) -> str:
    """An engine's message ("the training folder … changed …") as a sentence of its own."""
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def file_problem_text(exc: FlypError) -> str:
    """Why a file cannot be used, for a line that shows the file beside it (no path repeated)."""
    return exc.reason if isinstance(exc, FileError) else error_text(exc)


# Bad images (`core.checks.quality.ISSUES`) as the Data page lists them: their name, and the score in words.
QUALITY_WORDS = {
    "blurred": ("Blurred", "{:.0%} as sharp as most images"),
    "dark": ("Too dark", "brightness {:.0%}"),
    "bright": ("Too bright", "brightness {:.0%}"),
    "low-information": ("Nearly uniform", "{:.1f} bits of detail out of 8"),
    "odd-aspect-ratio": ("Very long or very tall", "{:.1f} times longer than wide"),
    "tiny": ("Tiny", "{:.0f} pixels on its shorter side"),
}


def quality_text(issue: str, score: float) -> tuple[str, str]:
    """A bad image's issue in the user's words: (its name, its score)."""
    name, score_words = QUALITY_WORDS.get(issue, (issue.replace("-", " ").capitalize(), "{:.2f}"))
    return name, score_words.format(score)


def download_text(event: dict) -> str:
    """A status line while a model's files are downloaded (an engine "download" event)."""
    done, total = event["done"] / 1e6, event["total"] / 1e6
    amount = f"{done:.0f} of {total:.0f} MB" if total else f"{done:.0f} MB"
    return f"Downloading {event['model']} into the Hugging Face cache: {amount}"


# What the app knows of a run besides run.json's status (`core.training.runs.RunStatus`).
TRAINING, MISSING, UNREADABLE = "training", "missing", "unreadable"
# The app's words for a run's state: the run history, the run pickers, every page says these.
STATUS_WORDS = {RunStatus.FINISHED: "finished", RunStatus.CANCELLED: "stopped — can be resumed",
                RunStatus.RUNNING: "interrupted — can be resumed", RunStatus.FAILED: "failed",
                TRAINING: "training now", MISSING: "folder missing", UNREADABLE: "unreadable"}
STOPPED_EARLY = "finished (stopped early)"  # a finished run that stopped before its last epoch (patience, time)


def run_status_text(status: str, stopped_early: bool = False) -> str:
    """A run's state in the app's words (`status`: a RunStatus or TRAINING, MISSING, UNREADABLE)."""
    if status == RunStatus.FINISHED and stopped_early:
        return STOPPED_EARLY
    return STATUS_WORDS.get(status, str(status))


def levers_text(info: dict) -> str:
    """What a run did to train faster (run.json's "levers"), in the labels of the settings, or ""
    for full FLYP: the Train page and the run's summary say it, never silently."""
    levers = info.get("levers") or {}
    if not levers:
        return ""
    shown = {"patch_dropout": lambda v: f"{v:.0%} of the image patches", "frozen_blocks": lambda v: f"{v}",
             "train_size": lambda v: f"{v} pixels", "precision": lambda v: "bf16 while training (quicker, less precise)",
             "compile": lambda v: "on"}
    parts = [f"{label(name)}: {shown[name](value)}" if name in shown else label(name) for name, value in levers.items()]
    why = " (chosen by the automatic mode: the time budget was short)" if (info.get("auto") or {}).get("levers") else ""
    return f"Trained faster, with the same FLYP loss — {'; '.join(parts)}{why}."

# Said wherever a run's confidence is shown raw (`core.trust.temperature.run_temperature` gave None).
UNCALIBRATED = ("The confidence is the model's own, not calibrated: no temperature could be fitted at this α "
                "(the run's validation images are not usable).")

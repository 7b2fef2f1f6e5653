"""Runs side by side: each run's method, settings, scores and weight-ensembling curve.

The curve of a run is its accuracy on the ID validation and OOD sets at α = 0, 0.1, …, 1 of its
best checkpoint, computed once and cached in the run folder (`core.weights.curve`).

`compare_runs` returns one row per run: what the table shows, and the curve as (ID, OOD)
points for the paper's plot (OOD accuracy against ID accuracy, one curve per run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from core.errors import FlypError
from core.progress import Progress, no_cancel, no_progress
from core.weights.curve import best_alpha, cached_curve, ood_mean, run_curve

SETTINGS = {"epochs": "epochs", "batch_size": "batch", "lr": "lr", "weight_decay": "wd"}


# Rows --------------------------------------------------------------------------------------------
def _point(sets: dict) -> dict:
    return {"id": sets.get("id", {}).get("accuracy"), "ood": ood_mean(sets)}


def settings_of(info: dict) -> dict:
    """The hyperparameters that tell runs apart: the common ones, and the method's own."""
    config, method = info.get("config", {}), info.get("config", {}).get("method", "")
    if method == "soup":
        soup = info.get("soup", {})
        return {"kind": soup.get("kind"), "runs": len(soup.get("runs", [])), "ingredients": len(soup.get("ingredients", []))}
    settings = {key: config.get(key) for key in SETTINGS} if method != "lp" else {}
    if method == "l2sp":
        settings["l2sp_lambda"] = config.get("l2sp_lambda")
    if method in ("lp", "lp-ft"):
        settings["lp_l2"] = (info.get("lp") or {}).get("l2")
    if config.get("mask_same_class"):
        settings["mask_same_class"] = True
    return settings


def settings_text(settings: dict) -> str:
    if "ingredients" in settings:
        return f"{settings['kind']} soup of {settings['ingredients']} / {settings['runs']} runs"
    words = [f"{SETTINGS[k]} {settings[k]:g}" if isinstance(settings.get(k), (int, float)) else ""
             for k in SETTINGS if k in settings]
    if settings.get("l2sp_lambda") is not None:
        words.append(f"λ {settings['l2sp_lambda']:g}")
    if settings.get("lp_l2") is not None:
        words.append(f"probe L2 {settings['lp_l2']:g}")
    if settings.get("mask_same_class"):
        words.append("same-class masked")
    return " · ".join(w for w in words if w)


def run_row(run_dir: str | Path, curve: list[dict] | None = None, error: str = "") -> dict:
    """One run's row: method, settings, scores at α = 0 and 1, the best α on ID and its scores, time."""
    from core.training.runs import RunDir, run_name

    info = RunDir(run_dir).read_info()
    best = info.get("best") or {}
    row = {"run": str(run_dir), "name": run_name(run_dir, info), "method": info["config"].get("method", ""),
           "status": info.get("status", ""), "settings": settings_of(info), "seconds": info.get("seconds"),
           "zero_shot": _point(info.get("zeroshot") or {}), "finetuned": _point(best.get("sets") or {}),
           "best_alpha": None, "blended": None, "curve": None, "error": error}
    row["settings_text"] = settings_text(row["settings"])
    if curve:
        points = [{"alpha": p["alpha"], **_point(p["sets"])} for p in curve]
        top = points[curve.index(best_alpha(curve))]
        row.update(curve=points, zero_shot={k: points[0][k] for k in ("id", "ood")},
                   finetuned={k: points[-1][k] for k in ("id", "ood")}, best_alpha=top["alpha"],
                   blended={k: top[k] for k in ("id", "ood")})
    return row


def expand_runs(paths: Sequence[str | Path]) -> list[Path]:
    """Run folders; a folder that is not a run but holds runs (a project's `NAME-runs/`) stands for them."""
    from core.training.runs import RunDir

    runs = []
    for path in map(Path, paths):
        if RunDir(path).exists():
            runs.append(path)
        elif path.is_dir() and (inside := sorted(p for p in path.iterdir() if RunDir(p).exists())):
            runs += inside
        else:
            raise FlypError(f"{path}: not a FLYP run folder (no run.json), nor a folder of runs")
    return runs


def compare_runs(run_dirs: Sequence[str | Path], device="cpu", *, compute: bool = True,
                 progress: Progress = no_progress, cancel: Callable[[], bool] = no_cancel,
                 on_row: Callable[[int, dict], None] | None = None) -> list[dict]:
    """A row per run (in order), with its α curve: cached, or computed when `compute`.

    A run that cannot be blended (still training, no checkpoint, data moved) keeps its row,
    without a curve, and says why in `error`. `on_row(index, row)` is called as each is ready.
    """
    from core.errors import Cancelled
    from core.training.runs import RunDir, RunStatus

    rows = []
    for i, run_dir in enumerate(run_dirs):
        curve, error = None, ""
        try:
            if RunStatus.of(RunDir(run_dir).read_info()) is RunStatus.RUNNING:
                error = "still training, or interrupted: resume it to compare it"
            else:
                curve = run_curve(run_dir, device, cancel=cancel) if compute else cached_curve(run_dir)
        except Cancelled:
            raise
        except (FlypError, OSError, ValueError) as exc:
            error = str(exc)
        try:
            row = run_row(run_dir, curve, error)
        except FlypError as exc:
            row = {"run": str(run_dir), "name": Path(run_dir).name, "method": "", "status": "unreadable",
                   "settings": {}, "settings_text": "", "seconds": None, "zero_shot": _point({}),
                   "finetuned": _point({}), "best_alpha": None, "blended": None, "curve": None, "error": str(exc)}
        rows.append(row)
        if on_row is not None:
            on_row(i, row)
        progress(i + 1, len(run_dirs))
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows as a plain-text table (percentages; — where there is no value)."""
    pct = lambda v: "—" if v is None else f"{v:.1%}"  # noqa: E731
    header = ["run", "method", "settings", "ID", "OOD", "best α", "ID@α", "OOD@α", "time"]
    table = [header]
    for r in rows:
        blended = r["blended"] or {}
        table.append([r["name"], r["method"], r["settings_text"], pct(r["finetuned"]["id"]), pct(r["finetuned"]["ood"]),
                      "—" if r["best_alpha"] is None else f"{r['best_alpha']:.1f}", pct(blended.get("id")),
                      pct(blended.get("ood")), duration(r["seconds"])])
    zero = next((r["zero_shot"] for r in rows if r["zero_shot"]["id"] is not None), None)
    widths = [max(len(row[c]) for row in table) for c in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
    if zero:
        lines.append(f"zero-shot: ID {pct(zero['id'])}, OOD {pct(zero['ood'])}")
    lines += [f"{r['name']}: {r['error']}" for r in rows if r["error"]]
    return "\n".join(lines)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d}"

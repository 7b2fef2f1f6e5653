"""Runs side by side: each run's method, settings, scores and weight-ensembling curve.

The curve of a run is its accuracy on the ID validation and OOD sets at α = 0, 0.1, …, 1
(`core.weights.blend.alpha_curve`) of its best checkpoint. It is cached in the run folder as
`blend_curve.json`, tied to the size and time of the best weights — the same file, in the same
format, as the app's Blend page keeps — so each curve is computed once, by whichever asks first.

`compare_runs` returns one row per run: what the table shows, and the curve as (ID, OOD)
points for the paper's plot (OOD accuracy against ID accuracy, one curve per run).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

from core import atomic
from core.errors import FlypError
from core.progress import Progress, no_cancel, no_progress

CURVE_FILE = "blend_curve.json"
CURVE_ALPHAS = tuple(i / 10 for i in range(11))  # α = 0, 0.1, …, 1
SETTINGS = {"epochs": "epochs", "batch_size": "batch", "lr": "lr", "weight_decay": "wd"}


# The α curve, cached in the run folder ----------------------------------------------------------
def weights_stamp(run_dir: str | Path) -> list[int]:
    """Size and modification time of the run's best weights: what a cached curve belongs to."""
    from core.training.runs import RunDir

    stat = RunDir(run_dir).weights_file("best").stat()
    return [stat.st_size, stat.st_mtime_ns]


def cached_curve(run_dir: str | Path) -> list[dict] | None:
    """The run's cached α curve if it belongs to its current best weights, else None."""
    try:
        stamp = weights_stamp(run_dir)
        data = json.loads((Path(run_dir) / CURVE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, FlypError):
        return None
    if not isinstance(data, dict) or data.get("weights") != stamp or data.get("alphas") != list(CURVE_ALPHAS):
        return None
    curve = data.get("curve")
    return curve if isinstance(curve, list) and curve else None


def run_curve(run_dir: str | Path, device="cpu", *, recompute: bool = False, progress: Progress = no_progress,
              cancel: Callable[[], bool] = no_cancel, sets: dict | None = None) -> list[dict]:
    """The run's α curve: [{"alpha", "sets": {name: metrics}}], from the cache or computed and cached.

    `sets`: the run's evaluation images when the caller has them already (runs on the same
    folders share them); by default they are read from the run's folders.
    """
    if not recompute and (curve := cached_curve(run_dir)) is not None:
        return curve
    from core.weights.blend import alpha_curve, open_run, run_eval_sets

    stamp = weights_stamp(run_dir)
    blended = open_run(run_dir, "best", device)
    if sets is None:
        sets = run_eval_sets(blended.info, cancel)
    curve = alpha_curve(blended, sets, CURVE_ALPHAS, progress=progress, cancel=cancel)
    for point in curve:
        for metrics in point["sets"].values():
            metrics.pop("confusion", None)  # C×C per set and α: too big to keep for many classes
    try:
        atomic.write_json(Path(run_dir) / CURVE_FILE,
                          {"format": 1, "weights": stamp, "alphas": list(CURVE_ALPHAS), "curve": curve})
    except FlypError:
        pass  # a read-only run folder: the curve is still returned
    return curve


# Rows --------------------------------------------------------------------------------------------
def ood_mean(sets: dict) -> float | None:
    """Mean accuracy over the OOD sets (every set but "id"), None without any."""
    ood = [m["accuracy"] for name, m in sets.items() if name != "id"]
    return sum(ood) / len(ood) if ood else None


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
    from core.training.runs import RunDir

    info = RunDir(run_dir).read_info()
    best = info.get("best") or {}
    row = {"run": str(run_dir), "name": Path(run_dir).name, "method": info["config"].get("method", ""),
           "status": info.get("status", ""), "settings": settings_of(info), "seconds": info.get("seconds"),
           "zero_shot": _point(info.get("zeroshot") or {}), "finetuned": _point(best.get("sets") or {}),
           "best_alpha": None, "blended": None, "curve": None, "error": error}
    row["settings_text"] = settings_text(row["settings"])
    if curve:
        points = [{"alpha": p["alpha"], **_point(p["sets"])} for p in curve]
        top = max(points, key=lambda p: p["id"] if p["id"] is not None else -1.0)  # first best: as `flyp export`
        row.update(curve=points, zero_shot={k: points[0][k] for k in ("id", "ood")},
                   finetuned={k: points[-1][k] for k in ("id", "ood")}, best_alpha=top["alpha"],
                   blended={k: top[k] for k in ("id", "ood")})
    return row


def expand_runs(paths: Sequence[str | Path]) -> list[Path]:
    """Run folders; a folder that is not a run but holds runs (a project's `NAME-runs/`) stands for them."""
    runs = []
    for path in map(Path, paths):
        if (path / "run.json").is_file():
            runs.append(path)
        elif path.is_dir() and (inside := sorted(p.parent for p in path.glob("*/run.json"))):
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

    rows = []
    for i, run_dir in enumerate(run_dirs):
        curve, error = None, ""
        try:
            info_status = json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8")).get("status")
            if info_status == "running":
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

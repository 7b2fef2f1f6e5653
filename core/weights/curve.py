"""A run's weight-ensembling curve: accuracy on its sets at α = 0, 0.1, …, 1, and the best α on it.

The curve of a run's best checkpoint is computed once and cached in the run folder as
`blend_curve.json`, tied to the size and time of the best weights: `flyp compare`, `flyp demo`
and the app's Blend, Export and Compare pages all read and write this one file. Each point also
keeps the temperature fitted on the ID validation logits at its α: predictions at any α are
calibrated from it (`core.trust.temperature.run_temperature`). Importing this
module loads no torch, so the app can read cached curves while PyTorch is still loading.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from core import atomic
from core.errors import FlypError
from core.progress import Progress, no_cancel, no_progress

CURVE_FILE = "blend_curve.json"
CURVE_ALPHAS = tuple(i / 10 for i in range(11))  # α = 0, 0.1, …, 1
# 2: each point keeps its temperature. A file of format 1, written before, is out of date like a
# curve of other weights: computed again when next needed, and until then predictions off the
# exported α are not calibrated (rather than calibrated by a temperature that was never fitted).
CURVE_FORMAT = 2


def best_alpha(curve: list[dict]) -> dict:
    """The point of the curve with the best ID validation accuracy: the paper's rule, never chosen
    on the "different conditions" sets. Ties go to the smaller α, which keeps more of the zero-shot
    model's robustness. (A curve without an "id" set is judged on its first set.)"""
    sets = curve[0]["sets"]
    name = "id" if "id" in sets else next(iter(sets))
    return max(curve, key=lambda point: point["sets"][name]["accuracy"])  # max keeps the first best


def balanced_alpha(curve: list[dict]) -> dict:
    """The smallest α whose ID validation accuracy is within noise of the best (one standard error
    of an accuracy on that many images, at least one point): as close to the zero-shot model, and
    its robustness, as the validation images allow. Chosen on ID validation only, like `best_alpha`."""
    best = best_alpha(curve)
    name = "id" if "id" in best["sets"] else next(iter(best["sets"]))
    top, n = best["sets"][name]["accuracy"], max(1, best["sets"][name].get("n", 1))
    tolerance = max(0.01, (top * (1 - top) / n) ** 0.5)
    return next(p for p in curve if p["sets"][name]["accuracy"] >= top - tolerance)


BALANCE_RULE = ("the smallest α whose validation accuracy is within noise (one standard error, at least one "
                "point) of the best: as close to the original model, and its robustness, as your validation "
                "images allow")


def ood_mean(sets: dict) -> float | None:
    """Mean accuracy over the OOD sets (every set but "id"), None without any."""
    ood = [m["accuracy"] for name, m in sets.items() if name != "id"]
    return sum(ood) / len(ood) if ood else None


def weights_stamp(run_dir: str | Path) -> list[int]:
    """Size and modification time of the run's best weights: what a cached curve belongs to."""
    from core.training.runs import RunDir

    stat = RunDir(run_dir).weights_file("best").stat()
    return [stat.st_size, stat.st_mtime_ns]


def cached_curve(run_dir: str | Path) -> list[dict] | None:
    """The run's cached α curve if it belongs to its current best weights and was written in this
    format (with its temperatures, `CURVE_FORMAT`), else None."""
    try:
        stamp = weights_stamp(run_dir)
        data = json.loads((Path(run_dir) / CURVE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, FlypError):
        return None
    if not isinstance(data, dict) or data.get("format") != CURVE_FORMAT or data.get("weights") != stamp \
            or data.get("alphas") != list(CURVE_ALPHAS):
        return None
    curve = data.get("curve")
    return curve if isinstance(curve, list) and curve else None


def run_curve(run_dir: str | Path, device="cpu", *, recompute: bool = False, progress: Progress = no_progress,
              cancel: Callable[[], bool] = no_cancel, sets: dict | None = None, blended=None) -> list[dict]:
    """The run's α curve: [{"alpha", "sets": {name: metrics}, "temperature", "temperature_fit"}], from
    the cache or computed and cached (the temperature fitted on the "id" set alone at each α).

    `sets`: the run's evaluation images when the caller has them already (runs on the same
    folders share them); `blended`: the run already opened (`core.weights.blend.open_run`).
    By default both are read from the run folder.
    """
    if not recompute and (curve := cached_curve(run_dir)) is not None:
        return curve
    from core.weights.blend import alpha_curve, open_run, run_eval_sets

    stamp = weights_stamp(run_dir)
    blended = blended if blended is not None else open_run(run_dir, "best", device)
    if sets is None:
        sets = run_eval_sets(blended.info, cancel)
    curve = alpha_curve(blended, sets, CURVE_ALPHAS, progress=progress, cancel=cancel)
    for point in curve:
        for metrics in point["sets"].values():
            metrics.pop("confusion", None)  # C×C per set and α: too big to keep for many classes
    try:
        atomic.write_json(Path(run_dir) / CURVE_FILE,
                          {"format": CURVE_FORMAT, "weights": stamp, "alphas": list(CURVE_ALPHAS), "curve": curve})
    except FlypError:
        pass  # a read-only run folder: the curve is still returned
    return curve

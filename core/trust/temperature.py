"""Which temperature a model's predictions divide their logits by: the one fitted on ID validation
(`core.trust.calibration.fit_temperature`) and kept in a bundle's flyp.json or a run's run.json
(`calibration`, at the α it was measured at), for a run at any other α the one of its α curve
(`blend_curve.json`, fitted at α = 0, 0.1, …, 1 and interpolated between), or none (the raw
softmax, `calibrated: false`).

No torch here: the app asks which temperature applies without loading a model.
"""

from __future__ import annotations

import math
from pathlib import Path

from core.errors import FlypError
from core.file_fields import is_number, read_json
from core.trust.temperature_range import clamp
from core.weights.curve import cached_curve

ALPHA_TOLERANCE = 1e-6  # a run's calibration applies to predictions at the α it was measured at


def from_calibration(calibration, where: str | Path) -> float | None:
    """The temperature a calibration summary (`core.trust.fitting.calibration_summary`, as flyp.json
    and run.json keep it) gives predictions: None without one; 1 when its validation had no
    errors (a fit written before that rule collapsed there: every confidence 1.00); else its T
    within [T_MIN, T_MAX]. FlypError naming `where` when the entry is damaged."""
    if calibration is None:
        return None
    t = calibration.get("temperature") if isinstance(calibration, dict) else None
    if not is_number(t) or t <= 0:
        raise FlypError(f"{where}: damaged: its calibration entry's temperature should be a positive number "
                        f"(it is {t!r}); measure and export again")
    validation = (calibration.get("sets") or {}).get("id") or {}
    if validation.get("accuracy") == 1:
        return 1.0
    return clamp(t)


def run_temperature(run_dir: str | Path, alpha: float, info: dict | None = None) -> float | None:
    """The temperature of the run in `run_dir` at `alpha`: its run.json's calibration (measured at
    export) when that was measured at this α, else its cached α curve's (`curve_temperature`),
    else None: no curve of the current best weights with temperatures yet (the Blend page,
    `flyp compare` or `flyp demo` compute it). `info`: run.json as already read."""
    where = Path(run_dir) / "run.json"
    if info is None:
        try:
            info = read_json(where, "")  # re-read: an export since the run was opened may have calibrated it
        except FlypError:
            return None  # run.json itself is checked where the run is opened
    calibration = info.get("calibration") if isinstance(info, dict) else None
    if isinstance(calibration, dict) and isinstance(calibration.get("alpha"), (int, float)) \
            and abs(calibration["alpha"] - alpha) <= ALPHA_TOLERANCE:
        return from_calibration(calibration, where)
    curve = cached_curve(run_dir)
    return curve_temperature(curve, alpha) if curve is not None else None


def curve_temperature(curve: list[dict], alpha: float) -> float | None:
    """The temperature at `alpha` from an α curve whose points each keep the T fitted on ID
    validation at their α (`core.weights.blend.alpha_curve`): a point's own at its α, between two
    points linear in log T (a scale: halfway between 0.5 and 2 is 1, not 1.25). None when a point
    has no valid temperature (a curve without an "id" set) or `alpha` lies outside the curve."""
    points = []
    for point in curve:
        t, a = point.get("temperature"), point.get("alpha")
        if not is_number(t) or t <= 0 or not is_number(a):
            return None
        points.append((float(a), clamp(t)))
    points.sort()
    for (a0, t0), (a1, t1) in zip(points, points[1:]):
        if a0 - ALPHA_TOLERANCE <= alpha <= a1 + ALPHA_TOLERANCE:
            share = min(1.0, max(0.0, (alpha - a0) / (a1 - a0))) if a1 > a0 else 0.0
            return math.exp((1 - share) * math.log(t0) + share * math.log(t1))
    if len(points) == 1 and abs(points[0][0] - alpha) <= ALPHA_TOLERANCE:
        return points[0][1]
    return None

"""Which temperature a model's predictions divide their logits by: the one fitted on ID validation
(`core.trust.calibration.fit_temperature`) and kept in a bundle's flyp.json or a run's run.json
(`calibration`, at the α it was measured at), or none (the raw softmax, `calibrated: false`).

No torch here: the app asks which temperature applies without loading a model.
"""

from __future__ import annotations

import math
from pathlib import Path

from core.errors import FlypError
from core.file_fields import read_json

# The range a fitted T is kept in. Below 1/20 the logits are multiplied by more than 20, and every
# confidence rounds to 0 or 1: that is what the fit runs to when validation has (almost) no errors,
# the NLL then falling as T → 0 without a minimum, not a measurement of the model. Above 20 every
# confidence tends to 1/classes: the fit runs there only when validation is no better than chance.
T_MIN, T_MAX = 0.05, 20.0
ALPHA_TOLERANCE = 1e-6  # a run's calibration applies to predictions at the α it was measured at


def clamp(temperature: float) -> float:
    """`temperature` kept within [T_MIN, T_MAX]."""
    return min(T_MAX, max(T_MIN, float(temperature)))


def from_calibration(calibration, where: str | Path) -> float | None:
    """The temperature a calibration summary (`core.trust.fitting.calibration_summary`, as flyp.json
    and run.json keep it) gives predictions: None without one; 1 when its validation had no
    errors (a fit written before that rule collapsed there: every confidence 1.00); else its T
    within [T_MIN, T_MAX]. FlypError naming `where` when the entry is damaged."""
    if calibration is None:
        return None
    t = calibration.get("temperature") if isinstance(calibration, dict) else None
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t <= 0:
        raise FlypError(f"{where}: damaged: its calibration entry's temperature should be a positive number "
                        f"(it is {t!r}); measure and export again")
    validation = (calibration.get("sets") or {}).get("id") or {}
    if validation.get("accuracy") == 1:
        return 1.0
    return clamp(t)


def run_temperature(run_dir: str | Path, alpha: float, info: dict | None = None) -> float | None:
    """The temperature of the run in `run_dir` at `alpha`: its run.json's calibration (measured at
    export) when that was measured at this α, else None. `info`: run.json as already read."""
    where = Path(run_dir) / "run.json"
    if info is None:
        try:
            info = read_json(where, "")  # re-read: an export since the run was opened may have calibrated it
        except FlypError:
            return None  # run.json itself is checked where the run is opened
    calibration = info.get("calibration") if isinstance(info, dict) else None
    if not isinstance(calibration, dict) or not isinstance(calibration.get("alpha"), (int, float)):
        return None
    if abs(calibration["alpha"] - alpha) > ALPHA_TOLERANCE:
        return None
    return from_calibration(calibration, where)

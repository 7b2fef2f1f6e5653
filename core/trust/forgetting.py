"""What finetuning forgot: zero-shot accuracy on a control set of classes the project never trains
(a folder with one sub-folder per class: the folder names are read as class names), along α.

FLYP finetunes the text tower too, so the control classes' zero-shot head is rebuilt from the
blended text tower at each α. α = 0 is the pretrained model: the control set's zero-shot accuracy
before any finetuning, the reference for "within N points". On the demo: the objects' colours,
which the shapes project never names (`flyp demo` writes no such folder; the tests make one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from core.errors import FlypError
from core.progress import Progress, check_cancel, no_cancel, no_progress
from core.weights.curve import CURVE_ALPHAS, balanced_alpha


def control_curve(blended, folder: str | Path, templates: Sequence[str] | None = None,
                  alphas: Sequence[float] = CURVE_ALPHAS, *, progress: Progress = no_progress,
                  cancel: Callable[[], bool] = no_cancel) -> dict:
    """{"folder", "classes", "n", "zero_shot", "curve": [{"alpha", "accuracy"}]}: the blend's
    zero-shot accuracy on `folder`'s class folders at each α (templates: the run's). The blend is
    left at its last α. FlypError names the folder when it has fewer than two classes."""
    from core.data.folders import scan_folder
    from core.data.loader import EvalImages
    from core.model.classifier import Classifier

    scan = scan_folder(folder, cancel=cancel)
    if len(scan.classes) < 2 or not scan.samples:
        raise FlypError(f"{folder}: a control set needs at least two class folders with images (found "
                        f"{len(scan.classes)})")
    loaded = blended.classifier.loaded
    names = [name.replace("_", " ") for name in scan.classes]
    control = Classifier(loaded, names, list(templates or blended.info["templates"]))  # shares the blend's model
    images = EvalImages(scan.samples, loaded.image_size, loaded.preprocess.get("interpolation", "bicubic"), cancel)
    curve = []
    for i, alpha in enumerate(alphas):
        check_cancel(cancel)
        blended.set_alpha(alpha)
        control.invalidate()  # the text tower changed with α
        curve.append({"alpha": alpha, "accuracy": control.evaluate(images, cancel=cancel).accuracy})
        progress(i + 1, len(alphas))
    zero = next((p["accuracy"] for p in curve if p["alpha"] == 0.0), None)
    return {"folder": str(folder), "classes": list(scan.classes), "n": len(scan.samples), "zero_shot": zero,
            "curve": curve}


def forgotten(control: dict, alpha: float) -> float | None:
    """How many points of control accuracy the blend at `alpha` lost against zero-shot (positive:
    forgotten), or None when the curve lacks α = 0 or `alpha`."""
    at = {round(p["alpha"], 6): p["accuracy"] for p in control["curve"]}
    if control["zero_shot"] is None or round(alpha, 6) not in at:
        return None
    return 100 * (control["zero_shot"] - at[round(alpha, 6)])


def balance_keeping(curve: list[dict], control: dict, points: float) -> dict:
    """"Best balance" (`core.weights.curve.balanced_alpha`, on ID validation) among the α whose
    control accuracy stays within `points` of zero-shot; α = 0 always qualifies."""
    if points < 0:
        raise FlypError(f"«keep_within» must be 0 points or more (got {points})", setting="keep_within")
    allowed = [p for p in curve if (lost := forgotten(control, p["alpha"])) is not None and lost <= points + 1e-9]
    if not allowed:
        raise FlypError("the control curve and the α-curve share no α (recompute the curve)")
    return balanced_alpha(allowed)

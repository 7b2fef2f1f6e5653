"""A run opened for blending: one model whose weights are set to θ(α) on demand, shared by
whoever blends it (the app's Blend, Try, Export and Label pages; see `flyp_app.caches.Caches`).

A caller holds `lock` from `at(alpha)` until it is done with the classifier, so callers that want
different α never see each other's weights. The evaluation sets decode on first use. This
module imports no torch at its top: the app's task adapters import it at theirs.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Sequence

from core.progress import no_cancel


class BlendSession:
    """One run's blend: `open(run_dir, device)`, `at(alpha)`, its evaluation sets and α-curve."""

    def __init__(self, blended):
        self.blended = blended
        self.lock = threading.RLock()
        self._sets = None

    @classmethod
    def open(cls, run_dir: str | Path, device: str = "auto") -> "BlendSession":
        """The run's best weights opened for blending on `device` (FlypError when it cannot be read)."""
        from core.model.loading import select_device
        from core.weights.blend import open_run

        blended = open_run(run_dir, "best", select_device(device))
        # The checkpoint loads on the CPU; keep both ends where the model is, so that blending on
        # a GPU does not mix devices.
        target = blended.classifier.device
        blended.finetuned = {k: v.to(target) for k, v in blended.finetuned.items()}
        return cls(blended)

    @property
    def class_names(self) -> list[str]:
        return list(self.blended.classifier.class_names)

    def at(self, alpha: float):
        """The classifier with θ(α) loaded (call with `lock` held)."""
        if self.blended.alpha != alpha:
            self.blended.set_alpha(alpha)
        return self.blended.classifier

    def forget_sets(self) -> None:
        """Read the evaluation folders again on next use (images moved or changed since)."""
        self._sets = None

    def eval_sets(self, cancel=None) -> dict:
        """{set name: core.data.loader.EvalImages}: the run's validation and different-conditions sets."""
        if self._sets is None:
            from core.weights.blend import run_eval_sets

            self._sets = run_eval_sets(self.blended.info, **({"cancel": cancel} if cancel is not None else {}))
        return self._sets

    def curve(self, run_dir: str | Path, *, recompute: bool = False, progress=None, cancel=no_cancel) -> list[dict]:
        """The α-curve (`core.weights.curve.run_curve`) on this session's model and sets."""
        from core.weights.curve import run_curve

        with self.lock:
            if recompute:
                self.forget_sets()
            sets = self.eval_sets(cancel=cancel)
            return run_curve(run_dir, recompute=True, progress=progress or (lambda *_: None), cancel=cancel,
                             sets=sets, blended=self.blended)

    def evaluate(self, alpha: float, cancel=no_cancel, temperature: float | None = None) -> dict:
        """{set name: core.model.evaluate.Metrics} of the blend at α on the run's evaluation sets, each
        image's confidence softmax(logits / `temperature`) (None: raw; `temperature(alpha)` is what
        predictions at α use)."""
        from core.weights.blend import evaluate_blend

        with self.lock:
            return evaluate_blend(self.blended, self.eval_sets(cancel=cancel), alpha, cancel, temperature)

    def temperature(self, alpha: float, novelty=None) -> float | None:
        """The temperature predictions at α divide their logits by (`core.trust.temperature.run_temperature`:
        the exported calibration at this α, else the α curve's; else the one `novelty`, a
        `core.trust.novelty.NoveltyModel` fitted at this α, fitted on the same validation images),
        None while there is none (raw softmax)."""
        from core.trust.temperature import run_temperature

        return run_temperature(self.blended.run.path, alpha) or getattr(novelty, "temperature", None)

    def probabilities(self, alpha: float, pixels: Sequence) -> list[list[float]]:
        """Class probabilities at α of preprocessed images (`core.data.transforms.eval_new_image`)."""
        return self.predict(alpha, pixels)[0]

    def predict(self, alpha: float, pixels: Sequence, novelty=None,
                temperature: float | None = None) -> tuple[list[list[float]], list]:
        """Class probabilities at α of preprocessed images (calibrated by `temperature`, by default
        `temperature(alpha, novelty)`: a caller predicting batch after batch asks it once; raw
        without any) and, with `novelty` (a `core.trust.novelty.NoveltyModel` fitted at this α),
        each image's novelty score (else None), the probabilities then less sure of unusual images
        (`core.trust.lowering`)."""
        import torch

        with self.lock:
            classifier = self.at(alpha)
            features = classifier.features(torch.stack(list(pixels)))
            logits = classifier.logits_from_features(features)
        logits = logits.float().cpu()
        calibrated = logits / (temperature or self.temperature(alpha, novelty) or 1.0)
        if novelty is None:
            return calibrated.softmax(-1).tolist(), [None] * len(pixels)
        scores = novelty.score(features.float().cpu(), logits)
        return novelty.lowered(calibrated, scores).softmax(-1).tolist(), scores.tolist()

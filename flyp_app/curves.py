"""The points of one training run, as the Train page plots them: no Qt, so a worker can fill them.

`Curves` is filled from training events or from a run's `metrics.jsonl`.
"""

from __future__ import annotations


class Curves:
    """The points of one run: steps with loss and learning rate, evaluations per set."""

    def __init__(self, total_steps: int | None = None):
        self.steps: list[int] = []
        self.loss: list[float] = []
        self.smooth: list[float] = []
        self.lr: list[float] = []
        self.evals: dict[str, tuple[list[int], list[float]]] = {}  # set → (steps, accuracies); "id" first
        self.baseline: dict[str, float] = {}  # the zero-shot accuracy (step-0 evaluation) per set
        self.best: tuple[int, float] | None = None  # (step, ID accuracy) of the best evaluation
        self.total_steps = total_steps
        self._ema, self._weight = 0.0, 0.0

    @classmethod
    def from_records(cls, records: list[dict]) -> "Curves":
        curves = cls(total_steps=sum(1 for r in records if r.get("type") == "step") or None)
        for record in records:
            curves.add(record)
        return curves

    @property
    def beta(self) -> float:
        """EMA decay: about a thirtieth of the run (3 to 100 steps) as the smoothing window."""
        window = min(100.0, max(3.0, (self.total_steps or 90) / 30))
        return 1 - 1 / window

    def add(self, record: dict) -> None:
        kind = record.get("type")
        if kind == "step":
            self._add_step(record["step"], float(record["loss"]), float(record["lr"]))
        elif kind == "eval":
            self._add_eval(record)

    def _add_step(self, step: int, loss: float, lr: float) -> None:
        beta = self.beta
        self._ema = beta * self._ema + (1 - beta) * loss
        self._weight = beta * self._weight + (1 - beta)
        self.steps.append(step)
        self.loss.append(loss)
        self.smooth.append(self._ema / self._weight)  # debiased, as TensorBoard's smoothing
        self.lr.append(lr)

    def _add_eval(self, record: dict) -> None:
        step = int(record["step"])
        for name, metrics in record.get("sets", {}).items():
            accuracy = 100.0 * float(metrics["accuracy"])
            if step == 0:
                self.baseline[name] = accuracy
            steps, values = self.evals.setdefault(name, ([], []))
            steps.append(step)
            values.append(accuracy)
        id_accuracy = record.get("sets", {}).get("id", {}).get("accuracy")
        if step > 0 and id_accuracy is not None and (self.best is None or 100.0 * id_accuracy > self.best[1]):
            self.best = (step, 100.0 * id_accuracy)

    @property
    def starred(self) -> tuple[int, float] | None:
        """The best evaluation, when it beats zero-shot: a checkpoint worse than the model before
        training (a collapsed run) gets no star."""
        zero = self.baseline.get("id")
        return self.best if self.best is not None and (zero is None or self.best[1] > zero) else None

    @property
    def last_step(self) -> int:
        return self.steps[-1] if self.steps else 0

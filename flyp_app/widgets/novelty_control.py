"""The Try page's "none of these" threshold, in the user's words: how unlike the training images
an image must be before the model says it is none of the classes, as the share of validation
images still taken as one of the classes; beside it, what that keeps of each evaluation set.

The default is the engine's threshold, chosen on ID validation (`core.trust.novelty.KEEP`); the
different-conditions sets are only reported on (`core.trust.choices.keep_choices`).
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QWidget

NONE_OF_THESE = "None of these classes"


def set_words(name: str) -> str:
    return "validation" if name == "id" else name


class NoveltyControl(QWidget):
    """A spin box of the share of validation images kept (50–100%); `threshold_changed(float)`
    gives the novelty above which an image is none of the classes."""

    threshold_changed = Signal(float)

    def __init__(self):
        super().__init__()
        self.rows: list[dict] = []
        self._chosen = False  # the user moved the control: a new run or α keeps their share
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        caption = QLabel("How unlike the training images before saying “none of these”:")
        layout.addWidget(caption)
        self.keep = QSpinBox(minimum=50, maximum=100, value=95, suffix=" % of validation images known")
        self.keep.setToolTip("Lower: more images are called “none of these classes”. The starting value keeps 95% "
                             "of the validation images as one of the classes.")
        caption.setBuddy(self.keep)
        self.keep.valueChanged.connect(self._user_moved)
        layout.addWidget(self.keep)
        self.effect = QLabel("", objectName="pageHint", wordWrap=True)
        layout.addWidget(self.effect, 1)
        self.setEnabled(False)

    def set_choices(self, choices: dict | None) -> None:
        """The run's choices (`flyp_app.trust_tasks.novelty_choices`), or None for a run without a
        novelty score; the spin box shows the engine's share until the user moves it."""
        self.rows = choices["rows"] if choices else []
        self.setEnabled(bool(self.rows))
        if not self.rows:
            self.effect.setText("This run cannot say “none of these”: its training images are not there." if choices is None
                                else "")
            return
        if not self._chosen:
            self.keep.blockSignals(True)
            self.keep.setValue(round(100 * choices["keep"]))
            self.keep.blockSignals(False)
        self._moved()

    def clear(self) -> None:
        self.rows = []
        self.setEnabled(False)
        self.effect.setText("")

    def threshold(self) -> float | None:
        row = self._row()
        return None if row is None else row["threshold"]

    def _row(self) -> dict | None:
        wanted = self.keep.value() / 100
        return min(self.rows, key=lambda r: abs(r["keep"] - wanted)) if self.rows else None

    def _user_moved(self) -> None:
        self._chosen = True
        self._moved()

    def _moved(self) -> None:
        row = self._row()
        if row is None:
            return
        shares = [f"{set_words(name)} {share:.0%}" for name, share in row["known"].items() if share is not None]
        self.effect.setText("Taken as one of the classes: " + ", ".join(shares) + "." if shares else "")
        self.threshold_changed.emit(row["threshold"])

"""The Label page's suggestions row: what suggests a class for each image (zero-shot, or a run at
the Blend page's α), a button to learn from the labels now, and how often the suggestions are right.

Two figures say how far to trust them: the out-of-fold accuracy on the labelled images (each
judged by the probe fitted without it, when the suggestions were last refitted) and, as labels
arrive, how many of the images labelled on this page were labelled as suggested.
"""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from flyp_app import label_tasks
from flyp_app.widgets.blend_run_picker import describe_run

ZERO_SHOT = "zero-shot"
RECENT = 20  # the images labelled here that the running figure counts


def accuracy_text(accuracy: float | None, learned_from: int) -> str:
    """The suggestions' accuracy on the labelled images, out of fold, in words."""
    if not learned_from:
        return "Accuracy: label a few images and it is measured on them."
    if accuracy is None:
        return f"Accuracy: too few labelled images ({learned_from}) to measure it; label a few more."
    return f"Right for {accuracy:.0%} of {learned_from} labelled images (each judged without it)"


def hits_text(history: list) -> str:
    """How many of the last `RECENT` images labelled here (`Labeller.history`) were labelled as suggested."""
    recent = [a for step in history for a in step if a.suggestion][-RECENT:]
    if not recent:
        return ""
    right = sum(a.suggestion == a.class_name for a in recent)
    return f"· suggested right for {right} of the last {len(recent)} you labelled"


class SuggestionRow(QWidget):
    """Suggestions from: [source] (what it is) [Update suggestions], and their accuracy below."""

    def __init__(self, state, refit_every: int):
        super().__init__()
        self.state = state
        rows = QVBoxLayout(self)
        rows.setContentsMargins(0, 0, 0, 0)
        rows.setSpacing(2)
        row = QHBoxLayout()
        row.addWidget(QLabel("Suggestions from:"))
        self.source = QComboBox()
        # a run's long name must not widen the window: the combo shows ~24 characters, the list all of it
        self.source.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.source.setMinimumContentsLength(24)
        self.source.setToolTip("What suggests a class for each image: the zero-shot model (your class names and "
                               "captions), or a finished run at the Blend page's α; both learn from your labels")
        row.addWidget(self.source)
        self.note = QLabel("", objectName="pageHint", wordWrap=True)
        row.addWidget(self.note, 1)
        self.refit_button = QPushButton("Update suggestions")
        self.refit_button.setToolTip(f"Learn from every labelled image now (it also happens in the background after "
                                     f"every {refit_every} labels)")
        row.addWidget(self.refit_button)
        rows.addLayout(row)
        self.accuracy = QLabel(accuracy_text(None, 0), objectName="pageHint", wordWrap=True)
        self.accuracy.setAccessibleName("Accuracy of the suggestions")
        self.accuracy.setToolTip("The suggestions' accuracy on the labelled images, each judged by suggestions "
                                 "learned without it (out of fold), measured again whenever they learn; then how "
                                 "often the images you labelled here were labelled as suggested")
        rows.addWidget(self.accuracy)
        self._measured = accuracy_text(None, 0)

    def fill(self) -> None:
        """Zero-shot and the project's usable runs, keeping the one chosen."""
        current = self.source.currentData()
        self.source.clear()
        self.source.addItem("Zero-shot", ZERO_SHOT)
        for stored in self.state.project.runs:
            run = describe_run(stored, self.state.folder(stored))
            if run.usable:
                self.source.addItem(f"Run {run.name}", run.path)
        self.source.setCurrentIndex(max(0, self.source.findData(current)))

    def chosen(self, classes: list[str], names: list[str]) -> dict:
        """The source chosen, as `flyp_app.label_tasks.open_source` takes it."""
        p = self.state.project
        data = self.source.currentData()
        if data in (None, ZERO_SHOT):
            return label_tasks.zero_shot_source(p, classes, names)
        return {"kind": "run", "path": data, "alpha": p.alpha}

    def describe(self) -> None:
        p = self.state.project
        if self.source.currentData() in (None, ZERO_SHOT):
            self.note.setText(f"model {p.model} with the Captions page's {len(p.templates)} template(s)")
        else:
            self.note.setText(f"blended at α = {p.alpha:.2f} (set α on the Blend page)")

    def measured(self, accuracy: float | None, learned_from: int, history: list) -> None:
        """Show the accuracy measured when the suggestions last learned, and the running figure."""
        self._measured = accuracy_text(accuracy, learned_from)
        self.labelled(history)

    def labelled(self, history: list) -> None:
        """Images were labelled (or undone): the running figure follows."""
        self.accuracy.setText(" ".join(t for t in (self._measured, hits_text(history)) if t))

    def reset(self) -> None:
        self.measured(None, 0, [])

"""Advice after a run (`core.training.advice`, read in a worker), in the app's words, with "Train again
with this change"."""

from __future__ import annotations

import html

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from flyp_app import train_tasks
from flyp_app.words import label


def change_words(change: dict) -> str:
    """Settings to change, as the form names them: "learning rate 0.0001, epochs 8"."""
    return ", ".join(f"{label(name).lower()} {value:g}" for name, value in change.items())


def advice_words(advice) -> str:
    """One piece of advice as the app says it: the finding, the change, what else to do."""
    text = advice.finding
    if advice.change:
        text += f" Try {change_words(advice.change)}."
    return f"{text} {advice.hint}".strip()


class AdviceBox(QWidget):
    """What the finished run's curves suggest, and a button that trains again with the first change.

    `run` starts a task in a worker (the page's `Page.run`)."""

    retrain = Signal(dict)  # the settings to change (TrainConfig fields, or the held-out share)

    def __init__(self, state, run):
        super().__init__()
        self.state, self._run = state, run
        self.last_config: dict = {}  # the settings of the run the advice is about
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        self.text = QLabel("", wordWrap=True, textFormat=Qt.RichText)
        self.button = QPushButton("")
        self.button.setAccessibleName("Train again with the suggested change")
        self.button.clicked.connect(lambda: self.retrain.emit(dict(self._change)))
        layout.addWidget(self.text)
        layout.addWidget(self.button, 0, Qt.AlignLeft)
        self._change: dict = {}
        self.hide()

    def show_advice(self, advice: list) -> None:
        """Show `advice` (a list of core.training.advice.Advice); nothing to show hides the box."""
        self.setVisible(bool(advice))
        items = "".join(f"<li>{html.escape(advice_words(a))}</li>" for a in advice)
        self.text.setText(f"<b>Advice from this run's curves</b><ul style='margin:0'>{items}</ul>")
        first = next((a for a in advice if a.change), None)
        self._change = dict(first.change) if first else {}
        self.button.setVisible(first is not None)
        self.button.setText(f"Train again with {change_words(self._change)}" if first else "")

    def advise(self, run_dir: str) -> None:
        """Read the run's curves in the background and show what they suggest."""
        if run_dir and Path(run_dir, "run.json").is_file():
            project = self.state.project
            self._run(train_tasks.run_advice, run_dir, on_done=lambda result: self._advised(project, result),
                      on_error=lambda _: None)

    def _advised(self, project, result: tuple) -> None:
        if project is not self.state.project:
            return  # another project opened meanwhile
        advice, self.last_config = result
        self.show_advice(advice)

"""The run that the Blend, Try and Export pages show, and a page-sized "nothing to show yet" note.

Runs are read through `core.training.runs.RunDir`, which needs no torch to read `run.json`, so
the pages can list runs while PyTorch is still loading.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QStackedWidget, QWidget

from core.errors import FlypError
from core.training.advice import collapsed
from core.training.runs import RunDir, RunStatus
from flyp_app.words import MISSING, TRAINING, UNREADABLE, run_status_text

NO_RUN = ("No finished training run yet.\n\nTrain a model on the Train page first: when a run has finished, "
          "it appears here.")



@dataclass(frozen=True)
class RunSummary:
    stored: str        # as the project stores it
    path: str          # absolute
    name: str
    status: str
    usable: bool       # has best weights and is not training
    reason: str        # why it cannot be blended (when not usable)
    stamp: tuple       # size and time of its best weights: changes when the run trains further
    best_id: float | None
    stopped_early: bool = False  # finished before its last epoch (patience, the time budget)
    collapsed: bool = False  # its best checkpoint is below zero-shot (core.training.advice.collapsed)

    @property
    def text(self) -> str:
        best = f" · best validation {self.best_id:.1%}" if self.best_id is not None else ""
        best += " · below zero-shot" if self.collapsed else ""
        return f"{self.name} — {run_status_text(self.status, self.stopped_early)}{best}"


def describe_run(stored: str, path: Path, training: bool = False) -> RunSummary:
    """What the pages need to know about a run folder, without loading any weights (`training`:
    the Train page is training it now, whatever its run.json says yet)."""
    run = RunDir(path)
    try:
        info = run.read_info()
        status = RunStatus.of(info) or UNREADABLE
    except FlypError:
        return RunSummary(stored, str(path), path.name, MISSING, False,
                          f"{path}: the run folder is missing or its run.json cannot be read.", (), None)
    try:
        stat = run.best_file.stat()
        stamp = (stat.st_size, stat.st_mtime_ns)
    except OSError:
        stamp = ()
    best = info.get("best") if isinstance(info.get("best"), dict) else {}
    reason = ""
    if training:
        status = TRAINING
        reason = ("This run is training now: it can be blended when it stops or finishes. Follow it on the "
                  "Train page, or choose another run above.")
    elif status is RunStatus.RUNNING:
        reason = ("This run is still training, or was interrupted: resume it on the Train page, "
                  "or choose another run above.")
    elif not stamp:
        reason = f"This run has no finetuned weights yet ({status}): it stopped before its first evaluation."
    return RunSummary(stored, str(path), path.name, status, not reason, reason, stamp, best.get("id_accuracy"),
                      bool(info.get("stopped_early")), collapsed(info) is not None)


class RunPicker(QWidget):
    """A combo box of the project's runs, kept in step with `state.run_selected`.

    `changed` carries the RunSummary to show (None when the project has no runs); it fires
    only when the run, its status or its weights change.
    """

    changed = Signal(object)

    def __init__(self, state):
        super().__init__()
        self.state = state
        self.combo = QComboBox()
        # As wide as the page lets it be, never wider: a long run name must not widen the window.
        self.combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(32)
        self.combo.setMaximumWidth(640)
        self.combo.setToolTip("The run this page is about; the same run is shown on Blend, Try and Export")
        self.combo.activated.connect(self._chosen)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Run:"))
        layout.addWidget(self.combo, 1)
        self._current: RunSummary | None = None
        state.project_changed.connect(self.refresh)
        state.runs_changed.connect(self.refresh)
        state.run_selected.connect(lambda _: self.refresh())

    def current(self) -> RunSummary | None:
        return self._current

    def refresh(self) -> None:
        project = self.state.project
        training = self.state.training_run
        runs = [describe_run(stored, self.state.folder(stored), training=bool(training) and
                             str(self.state.folder(stored)) == training) for stored in project.runs]
        wanted = next((r for r in runs if r.stored == project.current_run), None)
        if wanted is None:
            wanted = next((r for r in reversed(runs) if r.usable and not r.collapsed),
                          next((r for r in reversed(runs) if r.usable), runs[-1] if runs else None))
        self.combo.blockSignals(True)
        self.combo.clear()
        for run in runs:
            self.combo.addItem(run.text, run.stored)
            self.combo.setItemData(self.combo.count() - 1, run.path, Qt.ToolTipRole)
        if wanted is not None:
            self.combo.setCurrentIndex(runs.index(wanted))
        self.combo.blockSignals(False)
        self.setVisible(bool(runs))
        if wanted != self._current:
            self._current = wanted
            self.changed.emit(wanted)

    def _chosen(self, index: int) -> None:
        stored = self.combo.itemData(index)
        if stored and stored != self.state.project.current_run:
            self.state.select_run(stored)


class RunContent(QStackedWidget):
    """A page's body: its content when the run can be blended, else a note saying why not."""

    def __init__(self, content: QWidget):
        super().__init__()
        self.note = QLabel(NO_RUN, wordWrap=True, alignment=Qt.AlignCenter)
        self.note.setStyleSheet("color: #5a6472; font-size: 15px; padding: 40px;")
        self.addWidget(self.note)
        self.addWidget(content)

    def show_run(self, run: RunSummary | None) -> bool:
        """Show the content (True) or the note for a missing or unusable run (False)."""
        usable = run is not None and run.usable
        self.note.setText(NO_RUN if run is None else run.reason)
        self.setCurrentIndex(1 if usable else 0)
        return usable

"""The project's training runs: status and scores of each, and the buttons that act on one.

Run folders are read in a worker (`flyp_app.train_tasks.read_run_summaries`; a run's curves,
`read_curves`, by `widgets.run_curves`): core's run module brings torch with it, and a long run's
metrics file is too big to parse on the UI thread.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from core.training.runs import RunStatus
from flyp_app import train_tasks
from flyp_app.widgets.accessible import open_in_file_manager
from flyp_app.words import run_status_text


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


class RunHistory(QWidget):
    """A list of runs; selecting one asks the page to show it, Resume asks to continue it.

    `run` starts a task in a worker (the page's `Page.run`): the runs are read there."""

    chosen = Signal(str)            # a run folder the user selected
    resume_requested = Signal(str)  # a run folder to continue
    listed = Signal()               # the project's runs were read and are listed

    def __init__(self, state, run):
        super().__init__()
        self.state, self._run = state, run
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        header.addWidget(QLabel("<b>Runs of this project</b>"))
        header.addStretch(1)
        self.resume = QPushButton("Resume run")
        self.resume.setToolTip("Continue a stopped or interrupted run exactly where it was saved")
        self.resume.clicked.connect(lambda: self.resume_requested.emit(self.current()))
        self.open_folder = QPushButton("Open folder", toolTip="Show the selected run's folder (checkpoints, "
                                                              "curves, run.json) in the file manager")
        self.open_folder.clicked.connect(self._open_folder)
        header.addWidget(self.resume)
        header.addWidget(self.open_folder)
        layout.addLayout(header)
        self.tree = QTreeWidget()
        self.tree.setAccessibleName("Runs of this project")
        # Model and method share a column, and "Validation" has its words in the tooltip: at 1024 pixels
        # the runs' names were cut to "20…up" for want of the room they took.
        self.tree.setHeaderLabels(["Run", "Model · method", "Status", "Validation"])
        self.tree.headerItem().setToolTip(3, "Validation accuracy: zero-shot (before training) → the best checkpoint")
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.SingleSelection)
        header_view = self.tree.header()
        header_view.setStretchLastSection(False)
        header_view.setSectionResizeMode(QHeaderView.ResizeToContents)
        # The run's name is shown whole (it is how runs are told apart); the model and method take the
        # room left, cut short (whole in their tooltip), so that the scores stay in view.
        header_view.setSectionResizeMode(1, QHeaderView.Stretch)
        self.tree.setTextElideMode(Qt.ElideMiddle)
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        layout.addWidget(self.tree)
        self.summaries: dict[str, dict] = {}
        self.live: str | None = None
        self.paused = False
        self.busy = False  # a run is training: nothing else can be resumed meanwhile
        self._update_buttons()

    def refresh(self) -> None:
        """Read the project's runs again, in a worker."""
        self._run(train_tasks.read_run_summaries, self._run_paths(), on_done=self._read)

    def _run_paths(self) -> list[str]:
        return [str(self.state.folder(r)) for r in self.state.project.runs]

    def _read(self, summaries: list[dict]) -> None:
        if [s["path"] for s in summaries] != self._run_paths():
            return  # the project changed meanwhile: a newer read follows
        self.set_runs(summaries)
        self.listed.emit()

    def set_runs(self, summaries: list[dict]) -> None:
        """Show the runs (newest first), keeping the selection."""
        current = self.current()
        self.summaries = {s["path"]: s for s in summaries}
        self.tree.blockSignals(True)
        self.tree.clear()
        for summary in reversed(summaries):
            item = QTreeWidgetItem(self.tree, self._columns(summary))
            item.setData(0, Qt.UserRole, summary["path"])
            item.setToolTip(0, summary["path"])
            item.setToolTip(1, item.text(1))
            if summary["error"]:
                item.setToolTip(2, summary["error"])
            item.setTextAlignment(3, Qt.AlignRight | Qt.AlignVCenter)
        self.tree.blockSignals(False)
        if current:
            self.select(current)
        if not summaries:
            QTreeWidgetItem(self.tree, ["No runs yet: press Start training."]).setFlags(Qt.NoItemFlags)
        self._update_buttons()

    def _columns(self, s: dict) -> list[str]:
        live = "paused (saved)" if self.paused else "training…"
        status = live if s["path"] == self.live else run_status_text(s["status"], s["stopped_early"])
        scores = "" if s["zero_shot"] is None else f"{_percent(s['zero_shot'])} → {_percent(s['best'])}"
        model = " · ".join(t for t in (s["model"], s["method"].upper() if s["method"] else "") if t)
        return [s["name"], model, status, scores]

    def set_live(self, path: str | None, paused: bool = False) -> None:
        """The run being trained (None when none), and whether it is paused."""
        self.live, self.paused = path, paused
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            path_i = item.data(0, Qt.UserRole)
            if path_i in self.summaries:
                item.setText(2, self._columns(self.summaries[path_i])[2])
        self._update_buttons()

    def select(self, path: str) -> None:
        """Select `path` without emitting `chosen` (the page already shows it)."""
        self.tree.blockSignals(True)
        self.tree.clearSelection()
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(0, Qt.UserRole) == path:
                item.setSelected(True)
                self.tree.setCurrentItem(item)
        self.tree.blockSignals(False)
        self._update_buttons()

    def current(self) -> str:
        items = self.tree.selectedItems()
        return items[0].data(0, Qt.UserRole) or "" if items else ""

    def resumable(self, path: str) -> bool:
        summary = self.summaries.get(path)
        return bool(summary) and isinstance(summary["status"], RunStatus) and summary["status"].resumable \
            and path != self.live

    def _selection_changed(self) -> None:
        self._update_buttons()
        if path := self.current():
            self.chosen.emit(path)

    def _update_buttons(self) -> None:
        path = self.current()
        self.resume.setEnabled(not self.busy and self.resumable(path))
        self.open_folder.setEnabled(bool(path) and Path(path).is_dir())

    def _open_folder(self) -> None:
        if path := self.current():
            open_in_file_manager(path, self.open_folder)

"""The Train page's curves: the run they are of ("Showing: …"), and its loss and accuracy plots,
either the live run's or a past run's, read from its metrics file in a worker. The run's name begins
the plots' legend line, so that the two take one line above the plots, and none before a run."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QVBoxLayout, QWidget

from flyp_app import train_tasks
from flyp_app.curves import Curves
from flyp_app.widgets.train_plots import TrainingPlots


class RunCurves(QWidget):
    """`run` starts a task in a worker (the page's `Page.run`): a past run's curves are read there."""

    def __init__(self, run):
        super().__init__()
        self._run = run
        self.shown = ""     # the run whose curves are on screen
        self._reading = 0   # generation of the last curve read, to drop stale answers
        self.plots = TrainingPlots()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plots, 1)

    def hasHeightForWidth(self) -> bool:
        return False  # the plots take what is left: the page's column asks for their minimum only

    def clear(self) -> None:
        self.shown = ""
        self.plots.show_curves(None)
        self.plots.set_caption("")

    def show_live(self, path: str, curves: Curves) -> None:
        """The live run's curves (redrawn by the page as its events arrive)."""
        self.shown = path
        self.plots.show_curves(curves)
        self.caption(path, live=True)

    def show_run(self, path: str) -> None:
        """A past run's curves, read from its metrics file in a worker."""
        self.shown = path
        self.caption(path)
        self._reading += 1
        generation = self._reading
        self._run(train_tasks.read_curves, path, on_done=lambda result: self._curves_read(generation, *result))

    def caption(self, path: str, live: bool = False) -> None:
        self.plots.set_caption(f"Showing: {Path(path).name}{' (live)' if live else ''}")

    def _curves_read(self, generation: int, path: str, curves: Curves) -> None:
        if generation == self._reading and path == self.shown:
            self.plots.show_curves(curves)

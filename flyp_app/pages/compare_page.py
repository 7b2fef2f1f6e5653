"""Page 7, Compare: every run of the project side by side, and soups made of them.

The table gives each run's method, key settings, ID and OOD accuracy (finetuned, α = 1), the α
with the best ID accuracy and the scores there, and the time it took. The plot is the FLYP
paper's: OOD against ID accuracy, one weight-ensembling curve per run. The curves come from
each run's cached α curve (`blend_curve.json`, shared with the Blend page), computed in the
background for runs that have none yet; rows fill in as they are ready.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel, QProgressBar,
                               QPushButton, QSplitter, QStackedWidget, QTableWidget, QTableWidgetItem, QWidget)

from core.weights.compare import duration
from flyp_app import compare_tasks
from flyp_app.pages.base import Page
from flyp_app.theme import run_colour
from flyp_app.widgets.deferred import Deferred

COLUMNS = ["Run", "Method", "Settings", "ID", "OOD", "Best α", "ID at α", "OOD at α", "Time"]
NO_RUNS = "No runs yet: train on the Train page (try several methods) and compare them here."
READING = "Reading the runs…"
NO_OOD = ("No run has images of different conditions, so there is no robustness plot. Add such folders on the "
          "Data page before training to see one.")


def soup_verdict(info: dict) -> str:
    """The soup's validation accuracy against its best ingredient's, in words."""
    def id_accuracy(sets: dict) -> float:
        return sets.get("id", next(iter(sets.values()), {})).get("accuracy", 0.0)

    soup = info["best"]["id_accuracy"]
    scores = info.get("soup", {}).get("run_scores") or {}
    if not scores:
        return f"validation accuracy {soup:.1%}"
    best_run, best = max(((Path(r).name, id_accuracy(s)) for r, s in scores.items()), key=lambda x: x[1])
    compared = "better than" if soup > best + 1e-9 else "worse than" if soup < best - 1e-9 else "the same as"
    return f"validation accuracy {soup:.1%}, {compared} its best ingredient ({best_run}, {best:.1%})"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


class ComparePage(Page):
    title = "Compare"
    name = "compare"  # how the window and the View menu reach it
    hint = ("All runs of this project side by side. The plot shows, for each run, how accuracy on your images "
            "(ID, x) and under different conditions (OOD, y) moves as it is blended with the zero-shot model; the "
            "star marks the blend with the best validation accuracy. Tick runs to average them into a soup.")

    def __init__(self, state):
        super().__init__(state)
        self.rows: list[dict | None] = []
        self.paths: list[str] = []
        self._worker = self._soup_worker = None
        self._stale = True
        self._seq = 0
        self._reading = False  # the runs' rows are being read
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Read the runs again (curves already computed are reused)")
        self.refresh_button.clicked.connect(self.refresh)
        self.soup_kind = QComboBox()
        self.soup_kind.addItem("Uniform soup", False)
        self.soup_kind.addItem("Greedy soup", True)
        self.soup_kind.setAccessibleName("Kind of soup")
        self.soup_kind.setToolTip("Uniform: the average of every ticked run. Greedy: runs added best first, each "
                                  "kept only if validation accuracy does not drop (Model Soups, Wortsman et al. 2022).")
        self.soup_button = QPushButton("Make soup of ticked runs")
        self.soup_button.setToolTip("Average the weights of the ticked runs into a new run; it joins the list and "
                                    "the runs themselves stay as they are")
        self.soup_button.clicked.connect(self.make_soup)
        self.progress = QProgressBar(maximumWidth=200, textVisible=False)
        self.progress_label = QLabel("", objectName="pageHint", wordWrap=True)  # wraps rather than widen the window
        top = QHBoxLayout()
        top.addWidget(self.refresh_button)
        top.addSpacing(12)
        top.addWidget(self.soup_kind)
        top.addWidget(self.soup_button)
        top.addStretch(1)
        top.addWidget(self.progress_label)
        top.addWidget(self.progress)
        self.layout_.addLayout(top)
        self.table = self._table()
        self.plot_stack = QStackedWidget()
        self._plot_slot = Deferred(self._make_plot, minimum_height=200)
        self.plot_stack.addWidget(self._plot_slot)
        self.plot_note = QLabel(NO_OOD, wordWrap=True, alignment=Qt.AlignCenter, objectName="pageHint")
        self.plot_stack.addWidget(self.plot_note)
        self.splitter = QSplitter(Qt.Vertical, childrenCollapsible=False)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.plot_stack)
        self.splitter.setSizes([230, 420])
        self._split_moved = False  # once the user moves it, the table keeps the height they chose
        self.splitter.splitterMoved.connect(lambda *_: setattr(self, "_split_moved", True))
        self.layout_.addWidget(self.splitter, 1)
        self.add_status_line()
        self._busy(False)
        state.project_changed.connect(self._changed)
        state.runs_changed.connect(self._changed)

    @property
    def plot(self):
        """The OOD-vs-ID plot, built when first needed (the window opens without pyqtgraph)."""
        return self._plot_slot.widget().plot

    @staticmethod
    def _make_plot() -> QWidget:
        from flyp_app.widgets.compare_plot import ComparePlotBox

        return ComparePlotBox()

    def _table(self) -> QTableWidget:
        table = QTableWidget(0, len(COLUMNS))
        table.setHorizontalHeaderLabels(COLUMNS)
        table.verticalHeader().hide()
        table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectRows)
        table.setSelectionMode(QAbstractItemView.SingleSelection)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.Stretch)
        table.itemSelectionChanged.connect(self._selected)
        table.itemChanged.connect(lambda item: self._set_buttons() if item.column() == 0 else None)
        table.itemDoubleClicked.connect(self._open_run)
        table.setToolTip("Double-click a run to open it on the Blend, Try and Export pages")
        return table

    def _busy(self, busy: bool, text: str = "") -> None:
        self.progress.setVisible(busy)
        self.progress_label.setText(text)
        self._set_buttons()

    def _set_buttons(self) -> None:
        soup_busy = self._soup_worker is not None
        self.soup_button.setEnabled(not soup_busy and len(self.ticked()) >= 2)
        self.refresh_button.setEnabled(not soup_busy)

    # Reading the runs ----------------------------------------------------------------------------
    def _changed(self) -> None:
        self._stale = True
        if self.isVisible():
            self.refresh()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()  # computed when first looked at, not whenever a project opens

    def refresh(self) -> None:
        """List the project's runs, then fill each row (and compute missing curves) in the background."""
        self._stale = False
        if self._worker is not None:
            self._worker.cancel()
        self.paths = [str(self.state.folder(stored)) for stored in self.state.project.runs]
        self.rows = [None] * len(self.paths)
        self.show_error("")
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.paths))
        for r, path in enumerate(self.paths):
            self._set_cells(r, [Path(path).name, "", "reading…"] + [""] * (len(COLUMNS) - 3))
        self.table.blockSignals(False)
        self._fit_table()
        self._reading = bool(self.paths)
        self._draw()
        if not self.paths:
            self.show_info(NO_RUNS)
            self._busy(False)
            return
        self.progress.setRange(0, len(self.paths))
        self.progress.setValue(0)
        self._busy(True, "Reading the runs (computing the α curves that are missing)…")
        self._seq += 1
        seq = self._seq
        self._worker = self.run(compare_tasks.compare_rows, list(self.paths), self.device(),
                                on_event=lambda item: self._row_ready(seq, *item),
                                on_progress=lambda done, total: self.progress.setValue(done),
                                on_done=lambda rows: self._done(seq, rows), on_error=lambda text: self._failed(seq, text))

    def _row_ready(self, seq: int, index: int, row: dict) -> None:
        if seq != self._seq or index >= len(self.rows):
            return  # an older refresh
        self.rows[index] = row
        self._fill_row(index, row)
        self._draw()

    def _failed(self, seq: int, text: str) -> None:
        if seq == self._seq:
            self._worker = None
            self._reading = False
            self._draw()
            self._busy(False)
            self.show_error(text)

    def _done(self, seq: int, rows: list[dict]) -> None:
        if seq != self._seq:
            return  # an older refresh
        self._worker = None
        self._reading = False
        self.rows = rows
        for r, row in enumerate(rows):
            self._fill_row(r, row)
        self._draw()
        self._busy(self._soup_worker is not None)
        failed = [r for r in rows if r["error"]]
        if failed:
            self.show_info(f"{len(failed)} run(s) have no curve (hover over the name to see why): "
                           + ", ".join(r["name"] for r in failed))

    # Table and plot ------------------------------------------------------------------------------
    def _set_cells(self, r: int, texts: list[str]) -> None:
        for c, text in enumerate(texts):
            item = self.table.item(r, c)
            if item is None:
                item = QTableWidgetItem()
                if c == 0:
                    item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
                    item.setCheckState(Qt.Unchecked)
                elif c >= 3:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.table.setItem(r, c, item)
            item.setText(text)

    def _fit_table(self) -> None:
        """As tall as its rows (a few runs leave the plot most of the page), at most half the page."""
        if self._split_moved:
            return
        rows = sum(self.table.rowHeight(r) for r in range(self.table.rowCount())) or self.table.verticalHeader().defaultSectionSize()
        wanted = self.table.horizontalHeader().height() + rows + 2 * self.table.frameWidth() + 2
        total = sum(self.splitter.sizes()) or 650
        height = max(90, min(wanted, total // 2))
        self.splitter.setSizes([height, total - height])

    def _fill_row(self, r: int, row: dict) -> None:
        blended = row["blended"] or {}
        self.table.blockSignals(True)
        self._set_cells(r, [row["name"], row["method"], row["settings_text"], percent(row["finetuned"]["id"]),
                            percent(row["finetuned"]["ood"]),
                            "—" if row["best_alpha"] is None else f"{row['best_alpha']:.1f}",
                            percent(blended.get("id")), percent(blended.get("ood")), duration(row["seconds"])])
        name = self.table.item(r, 0)
        name.setToolTip(row["error"] or row["run"])
        name.setForeground(QColor(run_colour(r) if row["curve"] else "#8a8a8a"))
        self.table.blockSignals(False)

    def _draw(self) -> None:
        rows = [row if row is not None else {"run": path, "curve": None}
                for row, path in zip(self.rows, self.paths)]
        self.plot.set_rows(rows)
        has_curve = any(row.get("curve") and row["curve"][0]["ood"] is not None for row in rows)
        # a run read later may have such images: say so only once every run is read
        self.plot_note.setText(READING if self._reading else NO_OOD if self.paths else NO_RUNS)
        self.plot_stack.setCurrentWidget(self._plot_slot if has_curve else self.plot_note)

    def _selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        self.plot.highlight(self.paths[rows[0].row()] if rows else None)

    def _open_run(self, item) -> None:
        stored = self.state.project.runs[item.row()] if item.row() < len(self.state.project.runs) else None
        if stored:
            self.state.select_run(stored)
            self.state.say(f"{Path(self.paths[item.row()]).name} is now the run on Blend, Try and Export.")

    def ticked(self) -> list[str]:
        return [self.paths[r] for r in range(self.table.rowCount())
                if self.table.item(r, 0) is not None and self.table.item(r, 0).checkState() == Qt.Checked]

    # Soups -----------------------------------------------------------------------------------------
    def make_soup(self) -> None:
        paths = self.ticked()
        if len(paths) < 2 or self._soup_worker is not None:
            return
        from core.training.runs import new_run_dir

        greedy = bool(self.soup_kind.currentData())
        out = new_run_dir(self.state.project.runs_dir(), "greedy soup" if greedy else "soup")
        self.show_error("")
        self.progress.setRange(0, 0)
        self._soup_worker = self.run(compare_tasks.soup_run, paths, str(out), greedy, self.device(), on_done=self._soup_done,
                                     on_event=lambda text: self.progress_label.setText(str(text)),
                                     on_ended=self._soup_ended)
        self._busy(True, "Making the soup…")

    def _soup_done(self, info: dict) -> None:
        self.state.add_run(info["path"], select=False)  # listed; the run on Blend, Try and Export stays the user's choice
        self.show_info(f"Soup saved as {Path(info['path']).name}: {soup_verdict(info)}. Double-click it in the "
                       "table to use it on the Blend, Try and Export pages.", ok=True)

    def _soup_ended(self) -> None:
        self._soup_worker = None
        self._busy(self._worker is not None)

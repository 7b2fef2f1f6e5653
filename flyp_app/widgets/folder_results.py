"""The Try page's classified folder: one row per image (the CSV's columns), and the buttons that
save the CSV, sort the images into class folders, and undo the sorting (each in a worker)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QDoubleSpinBox, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from flyp_app import label_tasks
from flyp_app.file_dialogs import choose_folder, choose_new
from flyp_app.theme import ERROR_COLOUR
from flyp_app.widgets.confusion import ConfusionMatrix

CSV_FILTER = "CSV files (*.csv)"
VERDICT = "Like the training images"
COLUMNS = ("Image", "Class", "Confidence", "Second", "Third", "Skipped", VERDICT)
VERDICTS = {True: "yes", False: "no: none of these classes", None: ""}  # `Prediction.known`
SHOWN_CLASSES = 12  # per-class lines under the table, weakest first


class FolderResults(QWidget):
    """Rows of predictions (`core.labelling.classify.Prediction`), filled a batch at a time.

    `run` starts a task in a worker (the page's `Page.run`). `said(text, ok)`: a line for the page."""

    said = Signal(str, bool)
    closed = Signal()

    def __init__(self, state, run):
        super().__init__()
        self.state, self._run = state, run
        self.predictions: list = []
        self.last_sort = None  # the last sorting's report (`core.labelling.classify.SortReport`), to undo it
        self.threshold: float | None = None  # the novelty threshold applied (None: the engine's verdicts)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        # The title (a folder's path, a run's name) wraps on its own line: beside the buttons it
        # widened the window past the screen.
        self.title = QLabel("", wordWrap=True)
        layout.addWidget(self.title)
        row = QHBoxLayout()
        row.addStretch(1)
        self.export = QPushButton("Save as CSV…", toolTip="Save the table as a CSV file: path, class, confidence "
                                                          "and the next classes")
        self.export.clicked.connect(self._export_csv)
        row.addWidget(self.export)
        row.addWidget(QLabel("Sort, uncertain below:"))
        self.min_confidence = QDoubleSpinBox(minimum=0, maximum=100, decimals=0, suffix=" %")
        self.min_confidence.setToolTip("Images whose top class is less sure than this go into “_uncertain” "
                                       "when sorting (the red “uncertain <” line of the Blend page's plot)")
        self.show_min_confidence(state.project.min_confidence)
        self.min_confidence.valueChanged.connect(lambda v: state.set_min_confidence(v / 100))
        state.min_confidence_changed.connect(self.show_min_confidence)
        state.project_changed.connect(self._project_opened)
        row.addWidget(self.min_confidence)
        self.sort = QPushButton("Sort into folders…")
        self.sort.setToolTip("Copy each image into a folder named after its class; those like none of the "
                             "classes into “_unknown”, the uncertain ones into “_uncertain”. Nothing is overwritten.")
        self.sort.clicked.connect(lambda: self._sort_folder(self.min_confidence.value() / 100))
        row.addWidget(self.sort)
        self.unsort = QPushButton("Undo sorting")
        self.unsort.setToolTip("Remove the copies the last sorting made")
        self.unsort.clicked.connect(self.undo_sort)
        self.unsort.hide()
        row.addWidget(self.unsort)
        back = QPushButton("Back to single images")
        back.clicked.connect(self.closed)
        row.addWidget(back)
        layout.addLayout(row)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setAccessibleName("Classified images")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.Interactive)
        header.setSectionResizeMode(COLUMNS.index("Skipped"), QHeaderView.Stretch)
        self.table.setColumnWidth(0, 320)
        layout.addWidget(self.table, 1)
        # A labelled folder (class sub-folders): its scores against the folder names, like `flyp evaluate`.
        self.scores = QLabel("", wordWrap=True)
        self.scores.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout.addWidget(self.scores)
        self.confusion = ConfusionMatrix()
        layout.addWidget(self.confusion, 1)
        self.show_scores(None)

    def show_scores(self, result: dict | None) -> None:
        """The folder's accuracy, per-class precision/recall/F1 and confusion matrix against its class
        folders (core.model.scores.labelled_folder_scores), or nothing for a folder without them."""
        self.scores.setVisible(result is not None)
        self.confusion.setVisible(result is not None)
        if result is None:
            self.scores.setText("")
            self.confusion.set_matrix(None, [])
            return
        lines = [f"<b>Against the class folders: accuracy {result['accuracy']:.1%} on {result['n']} images, "
                 f"macro-F1 {result['macro_f1']:.3f}</b>"
                 + (f" ({result['uncounted']} image(s) outside the class folders not counted)" if result["uncounted"] else "")]
        weakest = sorted(result["per_class"].items(), key=lambda item: item[1]["f1"])  # weakest first
        lines += [f"{name}: precision {c['precision']:.2f} · recall {c['recall']:.2f} · F1 {c['f1']:.2f} ({c['n']} images)"
                  for name, c in weakest[:SHOWN_CLASSES]]
        if len(weakest) > SHOWN_CLASSES:
            lines.append(f"… and {len(weakest) - SHOWN_CLASSES} more classes, all with a higher F1")
        self.scores.setText("<br>".join(lines))
        self.confusion.set_matrix(result["confusion"], result["classes"])

    def start(self, folder: str) -> None:
        self.last_sort = None
        self.show_scores(None)
        self.predictions = []
        self.table.setRowCount(0)
        self.unsort.hide()
        self.set_buttons(False)
        self.title.setText(f"Classifying the images in {folder}…")

    def _export_csv(self) -> None:
        if out := choose_new(self, self.state, "Save the results as CSV", "classified.csv", CSV_FILTER):
            self._run(label_tasks.export_csv, list(self.predictions), out,
                      on_done=lambda path: self.said.emit(f"Saved {path}.", True))

    def show_min_confidence(self, value: float) -> None:
        """The project's minimum confidence (0–1) in the box, without making it an edit again."""
        self.min_confidence.blockSignals(True)
        self.min_confidence.setValue(round(100 * value))
        self.min_confidence.blockSignals(False)

    def _project_opened(self) -> None:
        self.show_min_confidence(self.state.project.min_confidence)

    def _sort_folder(self, min_confidence: float) -> None:
        if folder := choose_folder(self, self.state, "Folder to sort the images into"):
            self.sort_into(folder, min_confidence)

    def sort_into(self, folder: str, min_confidence: float) -> None:
        """Copy the classified images into class folders under `folder` (the uncertain apart)."""
        self.set_buttons(False)
        self._run(label_tasks.sort_folder, list(self.predictions), folder, min_confidence,
                  on_done=self._sorted_done, on_ended=lambda: self.set_buttons(True))

    def _sorted_done(self, report) -> None:
        self.last_sort = report
        self.unsort.show()
        counts = ", ".join(f"{name} {n}" for name, n in sorted(report.copied.items()))
        text = f"Copied into {report.folder}: {counts or 'nothing'}."
        if report.failed:
            self.said.emit(text + f" {len(report.failed)} could not be copied: {report.failed[0][1]}", False)
        else:
            self.said.emit(text + " Undo sorting removes these copies.", True)

    def undo_sort(self) -> None:
        from core.labelling.classify import unsort

        if self.last_sort is not None:
            unsort(self.last_sort)
            self.said.emit(f"The {len(self.last_sort.placed)} copies in {self.last_sort.folder} were removed.", True)
            self.last_sort = None
            self.unsort.hide()

    def set_buttons(self, enabled: bool) -> None:
        for button in (self.export, self.sort):
            button.setEnabled(enabled and bool(self.predictions))

    def set_threshold(self, threshold: float | None) -> None:
        """Judge every prediction again at the novelty `threshold` (the Try page's control): its
        verdict column, and which images sorting puts into “_unknown”."""
        self.threshold = threshold
        for row, p in enumerate(self.predictions):
            if threshold is not None and getattr(p, "novelty", None) is not None and not p.reason:
                p.known = p.novelty <= threshold
                self._paint(row, p)

    def add(self, batch: list) -> None:
        if self.threshold is not None:
            for p in batch:
                if p.novelty is not None and not p.reason:
                    p.known = p.novelty <= self.threshold
        first = self.table.rowCount()
        self.predictions += batch
        self.table.setUpdatesEnabled(False)
        self.table.setRowCount(first + len(batch))
        for row, p in enumerate(batch, first):
            cells = [Path(p.path).name, p.label, f"{p.confidence:.1%}" if p.top else ""]
            cells += [f"{c} {q:.1%}" for c, q in p.top[1:3]] + [""] * (2 - len(p.top[1:3])) + [p.reason]
            cells.append(VERDICTS[getattr(p, "known", None)])
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 0:
                    item.setToolTip(str(p.path))
                if col == 2 and p.top:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.table.setItem(row, col, item)
            self._paint(row, p)
        self.table.setUpdatesEnabled(True)

    def _paint(self, row: int, p) -> None:
        """The row's verdict and colour: red-grey for a skipped image, amber for none of these."""
        self.table.item(row, COLUMNS.index(VERDICT)).setText(VERDICTS[getattr(p, "known", None)])
        for col in range(len(COLUMNS)):
            item = self.table.item(row, col)
            if p.reason:
                item.setForeground(Qt.GlobalColor.red if col == COLUMNS.index("Skipped") else Qt.GlobalColor.gray)
            elif getattr(p, "known", None) is False:  # none of these: the row stands out
                item.setForeground(Qt.GlobalColor.darkYellow)
            else:
                item.setData(Qt.ForegroundRole, None)

    def finish(self, text: str) -> None:
        self.title.setText(text)
        self.set_buttons(True)

    def failed(self, text: str) -> None:
        self.title.setText(f'<span style="color:{ERROR_COLOUR}">{text}</span>')
        self.set_buttons(True)

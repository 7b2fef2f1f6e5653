"""The Try page's classified folder: one row per image (the CSV's columns), and the buttons that
save the CSV, sort the images into class folders, and undo the sorting."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QDoubleSpinBox, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from flyp_app.theme import ERROR_COLOUR

COLUMNS = ("Image", "Class", "Confidence", "Second", "Third", "Skipped", "Like the training images")
VERDICTS = {True: "yes", False: "no: none of these classes", None: ""}  # `Prediction.known`


class FolderResults(QWidget):
    """Rows of predictions (`core.labelling.classify.Prediction`), filled a batch at a time."""

    export_requested = Signal()
    sort_requested = Signal(float)
    unsort_requested = Signal()
    closed = Signal()

    def __init__(self):
        super().__init__()
        self.predictions: list = []
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
        self.export.clicked.connect(self.export_requested)
        row.addWidget(self.export)
        row.addWidget(QLabel("Sort, uncertain below:"))
        self.min_confidence = QDoubleSpinBox(minimum=0, maximum=100, value=50, decimals=0, suffix=" %")
        self.min_confidence.setToolTip("Images whose top class is less sure than this go into “_uncertain” "
                                       "when sorting")
        row.addWidget(self.min_confidence)
        self.sort = QPushButton("Sort into folders…")
        self.sort.setToolTip("Copy each image into a folder named after its class; those like none of the "
                             "classes into “_unknown”, the uncertain ones into “_uncertain”. Nothing is overwritten.")
        self.sort.clicked.connect(lambda: self.sort_requested.emit(self.min_confidence.value() / 100))
        row.addWidget(self.sort)
        self.unsort = QPushButton("Undo sorting")
        self.unsort.setToolTip("Remove the copies the last sorting made")
        self.unsort.clicked.connect(self.unsort_requested)
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

    def start(self, folder: str) -> None:
        self.predictions = []
        self.table.setRowCount(0)
        self.unsort.hide()
        self.set_buttons(False)
        self.title.setText(f"Classifying the images in {folder}…")

    def set_buttons(self, enabled: bool) -> None:
        for button in (self.export, self.sort):
            button.setEnabled(enabled and bool(self.predictions))

    def add(self, batch: list) -> None:
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
                if p.reason:
                    item.setForeground(Qt.GlobalColor.red if col == COLUMNS.index("Skipped") else Qt.GlobalColor.gray)
                elif getattr(p, "known", None) is False:
                    item.setForeground(Qt.GlobalColor.darkYellow)  # none of these: the row stands out
                self.table.setItem(row, col, item)
        self.table.setUpdatesEnabled(True)

    def finish(self, text: str) -> None:
        self.title.setText(text)
        self.set_buttons(True)

    def failed(self, text: str) -> None:
        self.title.setText(f'<span style="color:{ERROR_COLOUR}">{text}</span>')
        self.set_buttons(True)

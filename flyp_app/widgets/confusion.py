"""The confusion matrix of one evaluation set at the current α (the engine's counts), as a table
whose cells can be clicked: a row is the images' true class, a column the class predicted.

Each cell is shaded by its share of its row (green on the diagonal, red off it); clicking one
sends `cell_chosen((true, predicted))` (class indices) so the gallery shows those images.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QStackedWidget, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from flyp_app.theme import ERROR_COLOUR, OK_COLOUR

MAX_CLASSES = 40   # more would not be readable: the note says to use the per-class table
SHORT = 3          # the fewest characters of a class name in a column's heading (the whole name in its tooltip)


def _shade(colour: str, share: float) -> QColor:
    """`colour` over white, as strong as `share` (0–1)."""
    c, strength = QColor(colour), 0.15 + 0.7 * share if share else 0.0
    return QColor(*(round(255 + (v - 255) * strength) for v in (c.red(), c.green(), c.blue())))


class ConfusionMatrix(QWidget):
    cell_chosen = Signal(object)  # (true, predicted) class indices

    def __init__(self):
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Rows: true class · columns: predicted. Click a cell for its images.",
                                objectName="pageHint", wordWrap=True))
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setToolTip("How many images of each class (row) were predicted as each class (column). Click a "
                              "cell to show those images in the gallery.")
        self.table.setAccessibleName("Confusion matrix")
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Fixed)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.cellClicked.connect(lambda r, c: self.cell_chosen.emit((r, c)))
        self.table.viewport().installEventFilter(self)  # the headings are fitted again to the new width
        self._classes: list[str] = []
        self._widest_count = ""
        self.note = QLabel("", wordWrap=True, alignment=Qt.AlignCenter, objectName="pageHint")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.note)
        layout.addWidget(self.stack, 1)

    def set_matrix(self, confusion: list[list[int]] | None, classes: list[str]) -> None:
        """Show `confusion` (rows true, columns predicted) over `classes`; None: not evaluated yet."""
        if not confusion or len(classes) > MAX_CLASSES:
            self.note.setText("Evaluating…" if not confusion else
                              f"{len(classes)} classes are too many for a readable matrix: the per-class table "
                              "and the gallery of mistakes show where the model errs.")
            self.stack.setCurrentWidget(self.note)
            return
        self.stack.setCurrentWidget(self.table)
        chosen = self.chosen()
        self.table.setUpdatesEnabled(False)
        self.table.setRowCount(len(classes))
        self.table.setColumnCount(len(classes))
        self._classes, self._widest_count = list(classes), str(max(map(max, confusion)))
        for c, name in enumerate(classes):
            heading = QTableWidgetItem(name)
            heading.setToolTip(f"predicted: {name}")
            self.table.setHorizontalHeaderItem(c, heading)
            self.table.setVerticalHeaderItem(c, QTableWidgetItem(name))
        self._fit_columns()
        for r, row in enumerate(confusion):
            total = sum(row)
            for c, count in enumerate(row):
                cell = QTableWidgetItem(str(count) if count else "")
                cell.setTextAlignment(Qt.AlignCenter)
                cell.setBackground(QBrush(_shade(OK_COLOUR if r == c else ERROR_COLOUR, count / total if total else 0)))
                cell.setForeground(QBrush(QColor("#202020")))
                cell.setToolTip(f"{count} image(s) of {classes[r]} predicted as {classes[c]}"
                                + (": click to show them" if count else ""))
                self.table.setItem(r, c, cell)
        if chosen is not None and max(chosen) < len(classes):
            self.table.setCurrentCell(*chosen)
        self.table.setUpdatesEnabled(True)

    def eventFilter(self, watched, event) -> bool:
        if watched is self.table.viewport() and event.type() == QEvent.Resize:
            self._fit_columns()
        return super().eventFilter(watched, event)

    def _fit_columns(self) -> None:
        """Columns share the table's width, each as wide as its whole heading where there is room; a
        heading is cut (…) only where the width runs out, to its first SHORT characters at the least."""
        if not self._classes or self.table.columnCount() != len(self._classes):
            return
        metrics = self.table.horizontalHeader().fontMetrics()
        room = self.table.viewport().width() // len(self._classes)
        least = max(metrics.horizontalAdvance(self._widest_count),
                    max(metrics.horizontalAdvance(n[:SHORT]) for n in self._classes)) + 12
        width = max(least, min(room, max(metrics.horizontalAdvance(n) for n in self._classes) + 12))
        for c, name in enumerate(self._classes):
            self.table.setColumnWidth(c, width)
            text = name if metrics.horizontalAdvance(name) + 12 <= width else \
                metrics.elidedText(name, Qt.ElideRight, width - 12)
            if len(text.rstrip("…")) < SHORT:  # no room even for "abc…": the first letters, as narrow as can be
                text = name[:SHORT]
            self.table.horizontalHeaderItem(c).setText(text)

    def chosen(self) -> tuple[int, int] | None:
        items = self.table.selectedItems()
        return (items[0].row(), items[0].column()) if items else None

    def clear_choice(self) -> None:
        self.table.clearSelection()

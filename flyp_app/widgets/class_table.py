"""The Blend page's accuracy per class: zero-shot, finetuned and the blend at the chosen α on one
set's images, with F1 (precision and recall in its tooltip); the first row is all the images."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from flyp_app.theme import ERROR_COLOUR, OK_COLOUR

PRF_HEADER = "F1"  # precision and recall in each cell's tooltip: three columns would not fit 1024 px


def per_class_rows(curve: list[dict]) -> dict:
    """{set: (its classes, an array of the accuracy of all its images then of each class × α)}."""
    out = {}
    for name in curve[0]["sets"]:
        classes = list(curve[-1]["sets"][name]["per_class"])
        rows = [[p["sets"][name]["accuracy"] for p in curve]]
        rows += [[p["sets"][name]["per_class"].get(c, 0.0) for p in curve] for c in classes]
        out[name] = (classes, np.array(rows, dtype=float))
    return out


def interp_rows(rows, alphas: list[float], alpha: float):
    """np.interp of every row of `rows` (values at `alphas`) at `alpha`, at once."""
    i = int(np.clip(np.searchsorted(alphas, alpha, side="right") - 1, 0, len(alphas) - 2))
    share = (alpha - alphas[i]) / (alphas[i + 1] - alphas[i])
    return rows[:, i] * (1 - share) + rows[:, i + 1] * share


def blended_heading(alpha: float) -> str:
    return f"Blended\nα = {alpha:.2f}"


class ClassTable(QTableWidget):
    """`show_set(name, labels, zero, tuned)` fills the fixed columns once per set;
    `show_blend(values, zero, alpha, approx, scores)` only the blended column and F1."""

    def __init__(self):
        super().__init__(0, 5)
        self.shown_set = None  # the set whose rows the table holds
        self._better, self._worse, self._same = (QBrush(QColor(c)) for c in (OK_COLOUR, ERROR_COLOUR, "#333333"))
        self.setHorizontalHeaderLabels(["Class", "Zero-shot", "Finetuned", "Blended", PRF_HEADER])
        self.horizontalHeaderItem(4).setToolTip("Of the blend at the chosen α: F1, the balance of precision "
                                                "(how many of the images it puts in the class belong there) and "
                                                "recall (how many of the class's images it finds); point at a "
                                                "value for both")
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.NoSelection)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        # Fixed widths, sized once to the widest heading or cell: ResizeToContents re-measures every row
        # on every change, which made an exact result over 1000 classes take seconds on the UI thread.
        # "Blended" and its α take two lines, so the column is as wide as a value, not the heading.
        self.horizontalHeaderItem(3).setText(blended_heading(0.0))
        metrics = self.fontMetrics()
        for col, widest in ((1, "100.0%"), (2, "100.0%"), (3, "≈ 100.0%"), (4, "0.00")):
            header.setSectionResizeMode(col, QHeaderView.Fixed)
            self.setColumnWidth(col, max(header.sectionSizeFromContents(col).width(),
                                         metrics.horizontalAdvance(widest) + 16))
        # Room for every column, the class names at least 120 px: at 1024 px only the class column showed.
        self.setMinimumWidth(120 + sum(self.columnWidth(c) for c in (1, 2, 3, 4))
                             + self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth())
        self.setAccessibleName("Accuracy per class")
        self.setToolTip("Accuracy on each class's images: zero-shot, finetuned, and the blend at the chosen α")

    def clear_rows(self) -> None:
        self.shown_set = None
        self.setRowCount(0)

    def show_set(self, name: str, labels: list[str], zero, tuned) -> None:
        """The rows of set `name` (`labels`: "All images" then the classes) unless they show already."""
        if self.shown_set == name and self.rowCount() == len(labels):
            return
        self.shown_set = name
        self.setUpdatesEnabled(False)
        self.setRowCount(len(labels))
        bold = QFont()
        bold.setBold(True)
        for r, (label, z, t) in enumerate(zip(labels, zero, tuned)):
            cells = [QTableWidgetItem(label), QTableWidgetItem(f"{z:.1%}"), QTableWidgetItem(f"{t:.1%}"),
                     QTableWidgetItem(""), QTableWidgetItem("")]
            for c, cell in enumerate(cells):
                if c:
                    cell.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if r == 0:
                    cell.setFont(bold)
                self.setItem(r, c, cell)
        self.setUpdatesEnabled(True)

    def show_blend(self, values: list[float], zero, alpha: float, approx: bool, scores: dict,
                   classes: list[str]) -> None:
        """The blend's accuracy per row (estimated from the curve when `approx`), coloured against
        zero-shot, and F1 from `scores` ({class: {"precision", "recall", "f1", "n"}})."""
        mark = "≈ " if approx else ""
        self.horizontalHeaderItem(3).setText(blended_heading(alpha))
        tip = ("estimated from the curve; the exact value follows" if approx
               else "green: better than zero-shot; red: worse")
        self.setUpdatesEnabled(False)
        for r, b in enumerate(values):
            cell = self.item(r, 3)
            cell.setText(f"{mark}{b:.1%}")
            cell.setForeground(self._better if b > zero[r] + 1e-9 else self._worse if b < zero[r] - 1e-9
                               else self._same)
            cell.setToolTip(tip)
        for r, label in enumerate(["", *classes]):
            s = scores.get(label)
            self.item(r, 4).setText(f"{s['f1']:.2f}" if s else "")
            self.item(r, 4).setToolTip(f"precision {s['precision']:.2f} · recall {s['recall']:.2f} · "
                                       f"F1 {s['f1']:.2f} ({s['n']} images)" if s else "")
        self.setUpdatesEnabled(True)

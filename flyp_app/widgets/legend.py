"""A plot's legend as a line of text beside the plot, where it never covers a curve.

pyqtgraph's legend floats inside the view; on the Train and Blend plots the curves fill the
whole view (one rises, another falls), so any corner hides some of them. Pages put a
`LegendLine` above such a plot instead. No pyqtgraph here: it is a plain label.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

MARKS = {"line": "━━●━━", "dashed": "╍╍╍", "star": "★", "diamond": "◆", "plain": "━━━"}


class LegendLine(QLabel):
    """`add(name, colour, mark)` appends an entry; `clear()` empties it. Entries wrap when the plot is narrow."""

    def __init__(self):
        super().__init__(objectName="legend")  # white, as the plot it belongs to (style.qss)
        self.setTextFormat(Qt.RichText)
        self.setWordWrap(True)
        self.entries: list[tuple[str, str, str]] = []

    def clear(self) -> None:
        self.entries = []
        self.setText("")

    def add(self, name: str, colour: str, mark: str = "line") -> None:
        self.entries.append((name, colour, mark))
        self.setText(" &nbsp;&nbsp; ".join(
            f"<span style='white-space:nowrap'><span style='color:{c}'>{MARKS[m]}</span>&nbsp;{n}</span>"
            for n, c, m in self.entries))

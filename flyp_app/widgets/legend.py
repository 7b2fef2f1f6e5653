"""A plot's legend as a line of text beside the plot, where it never covers a curve.

pyqtgraph's legend floats inside the view; on the Train and Blend plots the curves fill the
whole view (one rises, another falls), so any corner hides some of them. Pages put a
`LegendLine` above such a plot instead, which may begin with a caption (the Train page's "Showing:
run"). No pyqtgraph here: it is a plain label.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from flyp_app.theme import HINT_COLOUR

MARKS = {"line": "━━●━━", "dashed": "╍╍╍", "star": "★", "diamond": "◆", "plain": "━━━"}


class LegendLine(QLabel):
    """`add(name, colour, mark)` appends an entry; `clear()` empties it (the caption stays). Entries wrap
    when the plot is narrow."""

    def __init__(self):
        super().__init__(objectName="legend")  # white, as the plot it belongs to (style.qss)
        self.setTextFormat(Qt.RichText)
        self.setWordWrap(True)
        self.entries: list[tuple[str, str, str]] = []
        self.caption = ""

    def clear(self) -> None:
        self.entries = []
        self._render()

    def add(self, name: str, colour: str, mark: str = "line") -> None:
        self.entries.append((name, colour, mark))
        self._render()

    def set_caption(self, text: str) -> None:
        """Words before the entries, in the hint's grey ("" for none)."""
        self.caption = text
        self._render()

    def _render(self) -> None:
        caption = [f"<span style='color:{HINT_COLOUR}'>{html.escape(self.caption)}</span>"] if self.caption else []
        self.setText(" &nbsp;&nbsp; ".join(caption + [
            f"<span style='white-space:nowrap'><span style='color:{c}'>{MARKS[m]}</span>&nbsp;{_unbroken(n)}</span>"
            for n, c, m in self.entries]))


def _unbroken(name: str) -> str:
    """An entry's name that the line never breaks inside (Qt breaks at a hyphen despite nowrap:
    "zero-" at the end of one line, "shot" on the next)."""
    return html.escape(name).replace("-", "\u2011").replace(" ", "&nbsp;")

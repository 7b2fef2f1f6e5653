"""A place in a layout for a widget that is built when it is first needed.

The pages' plots are pyqtgraph widgets; importing pyqtgraph takes a noticeable part of a second,
so a page holds a `Deferred` where its plot goes and builds the plot when the page is first shown
(or the plot first asked for), not while the window is being built.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtWidgets import QVBoxLayout, QWidget


class Deferred(QWidget):
    """An empty box that becomes `build()` on the first call of `widget()`."""

    def __init__(self, build: Callable[[], QWidget], minimum_height: int = 0):
        super().__init__()
        self._build = build
        self._widget: QWidget | None = None
        self.setMinimumHeight(minimum_height)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

    def widget(self) -> QWidget:
        if self._widget is None:
            self._widget = self._build()
            self.layout().addWidget(self._widget)
        return self._widget

    def built(self) -> bool:
        return self._widget is not None

"""The tabs under the Data page's class table: the label check, the search, … Each view is only
its row of controls until it has something to show (it limits its own height and says so with
its `expanded(bool)` signal); the tabs then ask the page for room (`wants_room`).
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QTabWidget, QWidget

UNLIMITED = 16777215  # Qt's QWIDGETSIZE_MAX: no maximum height


class DataViews(QTabWidget):
    wants_room = Signal()

    def __init__(self):
        super().__init__()
        self.setDocumentMode(True)
        self.currentChanged.connect(lambda _: self._fit())

    def add(self, view: QWidget, title: str, tip: str) -> None:
        """A tab for `view`; a view with an `expanded(bool)` signal gets room when it turns true."""
        index = self.addTab(view, title)
        self.setTabToolTip(index, tip)
        if hasattr(view, "expanded"):
            view.expanded.connect(lambda shown, view=view: self._expanded(view, shown))
        self._fit()

    def _expanded(self, view: QWidget, shown: bool) -> None:
        self._fit()
        if shown and view is self.currentWidget():
            self.wants_room.emit()

    def _fit(self) -> None:
        """As tall as the current view allows (only the tab bar and its row, until it shows a list)."""
        view = self.currentWidget()
        limit = view.maximumHeight() if view is not None else UNLIMITED
        self.setMaximumHeight(UNLIMITED if limit >= UNLIMITED else limit + self.tabBar().sizeHint().height() + 8)
        if limit < UNLIMITED or view is None:
            return
        self.wants_room.emit()

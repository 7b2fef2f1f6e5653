"""The Train page's right-hand column: the progress box (with the advice and the page's message line)
above the run's curves, and the project's runs below them, in a splitter the user can drag.

The progress box's text is not cut and the plots not squeezed past reading: the upper part asks for
the height the box's text needs at its width plus the plots' `MIN_HEIGHT`, so a long message or
advice (an automatic run's, at 1280×768) takes its room from the list of runs first, then from the
plots; never from the window, which keeps its size."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from flyp_app.widgets.train_plots import MIN_HEIGHT


class _ProgressAndCurves(QWidget):
    """The progress box above the curves, as tall as both need within `room()`, the most it may take."""

    def __init__(self, progress: QWidget, curves: QWidget, room: Callable[[], int]):
        super().__init__()
        self.progress, self.curves, self._room = progress, curves, room
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(progress)
        layout.addWidget(curves, 1)

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        need = (self.progress.heightForWidth(self.width()) + self.layout().spacing()
                + self.curves.minimumSizeHint().height() + MIN_HEIGHT)
        return QSize(hint.width(), max(hint.height(), min(need, self._room())))

    def event(self, event) -> bool:
        done = super().event(event)
        if event.type() == QEvent.LayoutRequest:  # the box's text changed: the splitter asks our minimum again
            self.updateGeometry()
        return done

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():  # wrapped text needs another height
            self.updateGeometry()


class RunColumn(QSplitter):
    """`progress` (the progress box, with `in_progress` added under its text) over `curves`, then `history`."""

    def __init__(self, progress: QWidget, in_progress: list[QWidget], curves: QWidget, history: QWidget):
        super().__init__(Qt.Vertical, childrenCollapsible=False)
        for widget in in_progress:
            progress.layout().addWidget(widget)
        room = lambda: self.height() - self.handleWidth() - history.minimumSizeHint().height()  # noqa: E731
        self.addWidget(_ProgressAndCurves(progress, curves, room))
        self.addWidget(history)
        self.setStretchFactor(0, 4)
        self.setStretchFactor(1, 1)
        self.setSizes([520, 150])

"""What every page shares: a title, a hint, an inline message line, and its workers."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from flyp_app import workers
from flyp_app.state import AppState
from flyp_app.theme import ERROR_COLOUR, OK_COLOUR


class Page(QWidget):
    title = ""
    hint = ""

    def __init__(self, state: AppState):
        super().__init__()
        self.setObjectName("page")
        self.state = state
        self._workers: set[workers.Worker] = set()
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(20, 16, 20, 12)
        heading = QLabel(self.title, objectName="pageTitle")
        self.layout_.addWidget(heading)
        if self.hint:
            hint = QLabel(self.hint, objectName="pageHint", wordWrap=True)
            self.layout_.addWidget(hint)
        self.status = QLabel("", wordWrap=True, textInteractionFlags=Qt.TextSelectableByMouse)
        self.status.hide()

    def add_status_line(self) -> None:
        """Place the inline message line (errors in words) at the current end of the layout."""
        self.layout_.addWidget(self.status)

    def show_error(self, text: str) -> None:
        self.status.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def show_info(self, text: str, ok: bool = False) -> None:
        self.status.setStyleSheet(f"color: {OK_COLOUR};" if ok else "")
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def run(self, fn, *args, on_done=None, on_error=None, **kwargs) -> workers.Worker:
        """Start `fn` in a worker owned by this page; errors go to the inline line by default."""
        worker = workers.Worker(fn, *args, **kwargs)
        self._workers.add(worker)
        worker.signals.done.connect(lambda: self._workers.discard(worker))
        return workers.start(worker, on_done=on_done, on_error=on_error or self.show_error)

    def busy(self) -> bool:
        return any(w.running for w in self._workers)

    def stop_workers(self) -> None:
        for worker in list(self._workers):
            worker.cancel()

"""What every page shares: a title, a hint, an inline message line, and its workers; and what the pages
about one run (Blend, Try, Export) share: the run picker, and a note when the run cannot be used."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from flyp_app import workers
from flyp_app.state import AppState
from flyp_app.theme import ERROR_COLOUR, OK_COLOUR
from flyp_app.widgets.blend_run_picker import RunContent, RunPicker


class Page(QWidget):
    title = ""
    name = ""  # the page's name: MainWindow.pages[name], MainWindow.show_page(name)
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

    def run(self, fn, *args, on_done=None, on_error=None, on_event=None, on_progress=None, on_cancelled=None,
            on_ended=None, **kwargs) -> workers.Worker:
        """Start `fn` in a worker owned by this page; errors go to the inline line by default.

        Pass every callback here (see `workers.start`): they are connected before the worker runs.
        """
        worker = workers.Worker(fn, *args, **kwargs)
        self._workers.add(worker)
        worker.signals.done.connect(lambda: self._workers.discard(worker))
        return workers.start(worker, on_done=on_done, on_error=on_error or self.show_error, on_event=on_event,
                             on_progress=on_progress, on_cancelled=on_cancelled, on_ended=on_ended, owner=self)

    def device(self) -> str:
        """The device the project's settings ask for ("auto" by default)."""
        return str(self.state.project.settings.get("device", "auto"))

    def busy(self) -> bool:
        return any(w.running for w in self._workers)

    def stop_workers(self) -> None:
        for worker in list(self._workers):
            worker.cancel()


class RunPage(Page):
    """A page about one run of the project: the run picker on top, then the page's content, or a
    note saying why the chosen run cannot be used (none yet, still training, no weights).

    A subclass builds `_content()`, may put widgets beside the picker (`_beside_picker()`), and
    reacts to `_run_changed(run)` (a `RunSummary`, or None when the project has no runs).
    """

    def __init__(self, state: AppState):
        super().__init__(state)
        self.picker = RunPicker(state)
        top = QHBoxLayout()
        top.addWidget(self.picker, 1)
        for widget in self._beside_picker():
            top.addWidget(widget)
        self.layout_.addLayout(top)
        self.body = RunContent(self._content())
        self.layout_.addWidget(self.body, 1)
        self.add_status_line()
        self.picker.changed.connect(self._run_changed)

    def _beside_picker(self) -> list[QWidget]:
        return []

    def _content(self) -> QWidget:
        raise NotImplementedError

    def _run_changed(self, run) -> None:
        raise NotImplementedError

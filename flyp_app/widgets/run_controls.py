"""The Train page's run control: Start training (or Start anyway), Pause / Resume, Stop, and which of
them can be pressed while a run trains, pauses or stops.

The controls act on the running worker's `RunControl` (pause, resume, cancel); what the
progress line should say of it is sent with `said(message)`. Resuming a stopped run is the run
list's (`widgets.run_history`). When the window closes, `stop_and_wait` stops the run and waits until
the engine has saved it."""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QCoreApplication, QEventLoop, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget

PAUSING = "Pausing…"


class RunControls(QWidget):
    """[Start training] [Pause] [Stop]. `start_wanted` when Start is pressed; `attach(control)` while a
    run's worker trains, `detach()` once it is done."""

    start_wanted = Signal()
    said = Signal(str)  # what the progress line says of a pause, a resume or a stop asked for

    def __init__(self):
        super().__init__()
        self.control = None  # the running worker's control, None while nothing trains
        self._ended = threading.Event()  # set from the worker's thread once it is done
        self.start_button = QPushButton("Start training", objectName="primary")
        self.start_button.clicked.connect(self.start_wanted)
        self.pause_button = QPushButton("Pause")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop and save the run; it can be resumed later")
        self.stop_button.clicked.connect(self.stop)
        buttons = QHBoxLayout(self)
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.start_button, 1)
        buttons.addWidget(self.pause_button)
        buttons.addWidget(self.stop_button)
        self.update_buttons()

    def flag(self, flagged: bool) -> None:
        """Settings far outside their usual bounds: the next press of Start starts anyway."""
        self.start_button.setText("Start anyway" if flagged else "Start training")

    def attach(self, worker) -> None:
        """`worker` trains (call it before it starts, after connecting its other `done` slots)."""
        self.control = worker.control
        self._ended.clear()
        worker.signals.done.connect(self._ended.set, Qt.DirectConnection)  # last: the others are queued by then
        self.update_buttons()

    def detach(self) -> None:
        self.control = None
        self.update_buttons()

    def toggle_pause(self) -> None:
        if self.control is None:
            return
        if self.control.paused:
            self.control.resume()
            self.pause_button.setText("Pause")
            self.said.emit("Resuming…")
        else:
            self.control.pause()
            self.pause_button.setText(PAUSING)
            self.pause_button.setEnabled(False)  # until the engine has saved and says "paused"
            self.said.emit("Pausing at the end of this step…")

    def stop(self) -> None:
        if self.control is not None:
            self.control.cancel()
            self.said.emit("Stopping: saving the run so that it can be resumed…")
            self.update_buttons()

    def stop_and_wait(self, timeout: float = 300.0) -> None:
        """Cancel the run and wait until the engine has saved its resumable state (window closing)."""
        if self.control is None:
            return
        self.stop()
        deadline = time.monotonic() + timeout
        while not self._ended.wait(0.05) and time.monotonic() < deadline:
            # Keep painting (an evaluation of a big model can take a while) but take no clicks.
            QCoreApplication.processEvents(QEventLoop.ExcludeUserInputEvents, 50)
        QCoreApplication.processEvents(QEventLoop.ExcludeUserInputEvents)  # the worker's last signals

    def paused(self) -> None:
        """The engine has saved the run and waits: Resume continues it (unless it is stopping)."""
        self.pause_button.setText("Resume")
        self.pause_button.setEnabled(not self.control.cancelled())

    def stopping(self) -> bool:
        return self.control is not None and self.control.cancelled()

    def update_buttons(self) -> None:
        training, stopping = self.control is not None, self.stopping()
        self.start_button.setEnabled(not training)
        self.pause_button.setEnabled(training and not stopping and self.pause_button.text() != PAUSING)
        self.stop_button.setEnabled(training and not stopping)
        if not training:
            self.pause_button.setText("Pause")

"""Background work: one worker abstraction for everything that may take more than a moment.

A `Worker` runs a plain function (a task of one of the adapters, `flyp_app.*_tasks`) in Qt's thread
pool. The function gets `progress` (a callable `(done, total)`), `control` (a
`core.progress.RunControl`: cancel/pause flags, itself usable as the engine's `cancel=` callable)
and `emit` (send any object to the UI thread). Results, engine errors (`FlypError`, in the app's
words: `flyp_app.words`) and cancellation come back as signals on the UI thread.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from shiboken6 import isValid

from core.errors import Cancelled, FlypError
from core.progress import RunControl
from flyp_app.words import error_text


class WorkerSignals(QObject):
    progress = Signal(int, int)
    event = Signal(object)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    done = Signal()  # after any of finished / failed / cancelled


class Worker(QRunnable):
    """Run `fn(*args, progress=, control=, emit=, **kwargs)` off the UI thread."""

    def __init__(self, fn: Callable[..., Any], *args, **kwargs):
        super().__init__()
        self.setAutoDelete(False)  # the owner keeps it to cancel it
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.signals = WorkerSignals()
        self.control = RunControl()
        self.running = False

    def run(self) -> None:
        self.running = True
        try:
            result = self.fn(*self.args, progress=partial(self._emit, self.signals.progress), control=self.control,
                             emit=partial(self._emit, self.signals.event), **self.kwargs)
        except Cancelled:
            self._emit(self.signals.cancelled)
        except RuntimeError as exc:
            if not _shut_down(exc, self.control.cancelled()):
                self._internal_error(exc)
            else:  # the window closed and the interpreter is ending: nothing to report, and nobody to hear it
                logging.getLogger("flyp_app").debug("%s ended as the app closed: %s", self._name(), exc)
                self._emit(self.signals.cancelled)
        except FlypError as exc:
            self._emit(self.signals.failed, error_text(exc))
        except Exception as exc:  # a bug: say it in words, keep the traceback in the log
            self._internal_error(exc)
        else:
            self._emit(self.signals.finished, result)
        finally:
            self.running = False
            self._emit(self.signals.done)

    def _name(self) -> str:
        return getattr(self.fn, "__name__", str(self.fn))

    def _internal_error(self, exc: Exception) -> None:
        from flyp_app.errors import log_file

        logging.getLogger("flyp_app").error("Internal error in %s", self._name(), exc_info=exc)
        self._emit(self.signals.failed, f"Internal error: {type(exc).__name__}: {exc} (the details are in the "
                                        f"log file {log_file()})")

    def _emit(self, signal, *args) -> None:
        """`signal.emit(*args)`, silent once nobody can hear it: a window closed while this worker
        was finishing deletes the signals' object, and the emit would raise in this thread."""
        try:
            signal.emit(*args)
        except RuntimeError:
            self.control.cancel()  # the page is gone: the work may stop too

    def cancel(self) -> None:
        self.control.cancel()


def _shut_down(exc: RuntimeError, cancelled: bool) -> bool:
    """Whether `exc` is a thread pool refusing work because it is shut down: the interpreter is
    ending (the window closed while this worker was still busy, past `wait_for_background_work`),
    or, for a worker already cancelled (its page closed), its pool was shut down under it. A
    pool shut down under a worker that nobody stopped is a bug, and stays one."""
    text = str(exc)
    return text.startswith("cannot schedule new futures after") and ("interpreter" in text or cancelled)


def start(worker: Worker, *, on_done: Callable[[Any], None] | None = None,
          on_error: Callable[[str], None] | None = None, on_event: Callable[[Any], None] | None = None,
          on_progress: Callable[[int, int], None] | None = None, on_cancelled: Callable[[], None] | None = None,
          on_ended: Callable[[], None] | None = None, pool: QThreadPool | None = None,
          owner: QObject | None = None) -> Worker:
    """Start `worker` in `pool` (the global pool by default) with optional callbacks.

    Every callback is connected before the worker starts: a worker that finishes (or reports
    progress) at once would otherwise signal before anyone listens, and the signal is lost.
    `on_ended` follows any of done, error and cancellation. With an `owner` (the page that shows
    the answer), no callback runs once the owner's widgets are deleted: a window closed while a
    scan was finishing gets no answer to show.
    """
    for signal, slot in ((worker.signals.finished, on_done), (worker.signals.failed, on_error),
                         (worker.signals.event, on_event), (worker.signals.progress, on_progress),
                         (worker.signals.cancelled, on_cancelled), (worker.signals.done, on_ended)):
        if slot is not None:
            signal.connect(slot if owner is None else partial(_if_alive, owner, slot))
    (pool or QThreadPool.globalInstance()).start(worker)
    return worker


def _if_alive(owner: QObject, slot: Callable[..., None], *args) -> None:
    if isValid(owner):
        slot(*args)
    else:
        logging.getLogger("flyp_app").debug("%s: its page was closed, the answer is dropped", slot)


def wait_for_background_work(seconds: float = 10) -> bool:
    """After the window closed: give the shared pool's cancelled workers `seconds` to end, so that
    none is cut off mid-write when the interpreter exits. False if some are still running."""
    return QThreadPool.globalInstance().waitForDone(int(seconds * 1000))

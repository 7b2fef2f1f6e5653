"""Progress and cancellation for long engine work.

Long functions take `progress=` (a callable `(done, total)`) and `cancel=` (a callable that
returns True once the user asked to stop); the defaults do nothing, so the command line, the
app and tests drive the same functions.
"""

from __future__ import annotations

import threading
from typing import Callable

from core.errors import Cancelled

Progress = Callable[[int, int], None]


def no_progress(done: int, total: int) -> None:
    pass


def no_cancel() -> bool:
    return False


def check_cancel(cancel: Callable[[], bool]) -> None:
    if cancel():
        raise Cancelled()


class RunControl:
    """Cancel, pause and resume flags shared between a worker thread and whoever drives it."""

    def __init__(self) -> None:
        self._cancel = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def cancel(self) -> None:
        self._cancel.set()
        self._running.set()  # a paused run must wake up to stop

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def wait_while_paused(self) -> None:
        """Block while paused; return at once when running or cancelled."""
        while not self._running.wait(timeout=0.2):
            pass

    __call__ = cancelled  # a RunControl is itself a `cancel` callable

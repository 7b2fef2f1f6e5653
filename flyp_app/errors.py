"""Nothing goes unseen: a log file in the platform's log folder, a dialog for any uncaught
exception (with where the log is), and `faulthandler` writing a hard crash's stack to the log."""

from __future__ import annotations

import faulthandler
import logging
import logging.handlers
import sys
import threading
import traceback
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal

LOG_NAME = "flyp-studio.log"
log = logging.getLogger("flyp_app")
_crash_file = None  # kept open: faulthandler writes to it when the process dies


def log_file() -> Path:
    from platformdirs import user_log_path

    return user_log_path("FLYP Studio", appauthor=False) / LOG_NAME


def start_logging() -> Path | None:
    """Log to the log file (rotated at 1 MB, 3 kept) and let faulthandler write crashes there; the
    log file, or None when its folder cannot be written (the app runs on without a log)."""
    global _crash_file
    path = log_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
        _crash_file = open(path.with_suffix(".crash.log"), "a", encoding="utf-8")  # noqa: SIM115
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    faulthandler.enable(_crash_file)
    return path


class ErrorReporter(QObject):
    """Shows uncaught exceptions in a dialog on the UI thread, whatever thread raised them."""

    report = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.shown: list[str] = []  # what was reported (for tests)
        self.report.connect(self._show, Qt.QueuedConnection)

    def install(self) -> None:
        sys.excepthook = self.excepthook
        threading.excepthook = lambda args: self.excepthook(args.exc_type, args.exc_value, args.exc_traceback)

    def excepthook(self, kind, value, tb) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, tb)
            return
        log.error("Uncaught exception\n%s", "".join(traceback.format_exception(kind, value, tb)))
        self.report.emit(f"{kind.__name__}: {value}")

    def _show(self, text: str) -> None:
        from PySide6.QtWidgets import QApplication, QMessageBox

        self.shown.append(text)
        where = log_file()
        parent = QApplication.activeWindow()
        box = QMessageBox(QMessageBox.Critical, "Something went wrong",
                          "FLYP Studio met an error it did not expect. Your project and runs are saved as they were; "
                          "you can go on working.", parent=parent)
        box.setInformativeText(f"{text}\n\nThe details are in the log file:\n{where}")
        box.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self._box = box  # kept alive while shown
        box.open()  # not modal-blocking: another error must not stack nested event loops

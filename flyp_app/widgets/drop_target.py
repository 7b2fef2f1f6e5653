"""Dropping folders (or files) on one field: the field lights up while a folder is dragged over
it, and the drop sets that field (not whatever the window would do with a folder dropped elsewhere).

`DropTarget(widget, on_drop)` makes `widget` (a form row: its field and buttons) take folder
drops (`accepts`: which paths it takes instead, such as image files for a search); its children
stop taking drops of their own, so a drop anywhere on the row lands here. The highlight is the
dynamic property `dropTarget`, drawn by style.qss.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QAbstractScrollArea, QWidget


def local_paths(mime) -> list[Path]:
    """The local files and folders a drag carries."""
    return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []


def highlight(widget: QWidget, on: bool) -> None:
    """Show (or clear) the drop highlight of `widget` (style.qss: [dropTarget="true"])."""
    if bool(widget.property("dropTarget")) != on:
        widget.setProperty("dropTarget", on)
        widget.style().unpolish(widget)
        widget.style().polish(widget)


class DropTarget(QObject):
    """Folder drops on `widget` call `on_drop(folders)`; anything else is refused."""

    def __init__(self, widget: QWidget, on_drop: Callable[[list[Path]], None],
                 accepts: Callable[[Path], bool] = Path.is_dir):
        super().__init__(widget)
        self.widget, self.on_drop, self.accepts = widget, on_drop, accepts
        for child in widget.findChildren(QWidget):
            child.setAcceptDrops(False)  # a line edit would take the path as text
            if isinstance(child, QAbstractScrollArea):
                child.viewport().setAcceptDrops(False)
        widget.setAcceptDrops(True)
        widget.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        kind = event.type()
        if kind in (QEvent.DragEnter, QEvent.DragMove):
            if any(self.accepts(p) for p in local_paths(event.mimeData())):
                event.acceptProposedAction()
                highlight(self.widget, True)
            else:
                event.ignore()
            return True
        if kind == QEvent.DragLeave:
            highlight(self.widget, False)
            return True
        if kind == QEvent.Drop:
            highlight(self.widget, False)
            folders = [p for p in local_paths(event.mimeData()) if self.accepts(p)]
            if folders:
                event.acceptProposedAction()
                self.on_drop(folders)
            return True
        return False

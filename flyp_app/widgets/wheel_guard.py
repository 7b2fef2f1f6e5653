"""The mouse wheel scrolls the panel under the pointer, not the spin box or list the pointer crosses.

Qt lets the wheel change an unfocused spin box or combo box; scrolling a settings panel then changes
the batch size unseen. Once installed on the application, such a widget takes the wheel only when it
has the keyboard focus (clicked or tabbed into); otherwise the wheel goes to the scroll area around it.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QAbstractScrollArea, QAbstractSpinBox, QApplication, QComboBox, QWidget

GUARDED = (QAbstractSpinBox, QComboBox)


class WheelGuard(QObject):
    """Application event filter: see the module's docstring."""

    def eventFilter(self, obj, event) -> bool:
        kind = event.type()
        if kind == QEvent.Polish and isinstance(obj, GUARDED) and obj.focusPolicy() == Qt.WheelFocus:
            obj.setFocusPolicy(Qt.StrongFocus)  # a wheel would otherwise give it the focus first
        elif kind == QEvent.Wheel and isinstance(obj, GUARDED) and not obj.hasFocus():
            area = _scroll_area_around(obj)
            if area is not None:
                position = area.viewport().mapFromGlobal(event.globalPosition().toPoint())
                QApplication.sendEvent(area.viewport(), QWheelEvent(
                    position, event.globalPosition(), event.pixelDelta(), event.angleDelta(), event.buttons(),
                    event.modifiers(), event.phase(), event.inverted()))
            else:
                event.ignore()  # nothing to scroll: the wheel does nothing here
            return True
        return False


def _scroll_area_around(widget: QWidget) -> QAbstractScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea) and not isinstance(parent, GUARDED):
            return parent
        parent = parent.parentWidget()
    return None


def install(app: QApplication) -> None:
    """Guard every spin box and combo box of the application (once; later calls do nothing)."""
    if app.findChild(WheelGuard) is None:
        app.installEventFilter(WheelGuard(app))

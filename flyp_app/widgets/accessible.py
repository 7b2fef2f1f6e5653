"""Names for assistive technology and a way to open folders that says when it cannot.

`name_controls(root)` gives every button, field and list under `root` an accessible name, the one
a sighted user reads: a button's text, a form field's label, else its tooltip or placeholder.
`open_in_file_manager(path, anchor)` opens a file or folder with the desktop, and says so beside
`anchor` when no file manager is there to open it.
"""

from __future__ import annotations

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QAbstractButton, QAbstractItemView, QAbstractSpinBox, QBoxLayout, QComboBox,
                               QFormLayout, QGroupBox, QLabel, QLineEdit, QPlainTextEdit, QSlider, QToolTip, QWidget)

CONTROLS = (QAbstractButton, QLineEdit, QComboBox, QAbstractSpinBox, QAbstractItemView, QPlainTextEdit, QSlider)


def _plain(text: str) -> str:
    return text.replace("&", "").replace("…", "").strip().rstrip(":")


def name_controls(root: QWidget) -> None:
    """Give each control under `root` without an accessible name the words the user sees for it."""
    for form in root.findChildren(QFormLayout):
        for row in range(form.rowCount()):
            label = form.itemAt(row, QFormLayout.LabelRole)
            field = form.itemAt(row, QFormLayout.FieldRole)
            if label is None or field is None or not isinstance(label.widget(), QLabel):
                continue
            for control in _widgets_in(field):
                if not isinstance(control, QAbstractButton) and not control.accessibleName():
                    control.setAccessibleName(_plain(label.widget().text()))
    for row in root.findChildren(QBoxLayout):  # "Preset: [combo]", "Run: [combo]"
        widgets = [row.itemAt(i).widget() for i in range(row.count())]
        for label, control in zip(widgets, widgets[1:]):
            if isinstance(label, QLabel) and label.text().strip() and isinstance(control, CONTROLS) \
                    and not isinstance(control, QAbstractButton) and not control.accessibleName():
                control.setAccessibleName(_plain(label.text()))
    for control in root.findChildren(QWidget):
        if not isinstance(control, CONTROLS) or control.accessibleName() or _internal(control):
            continue
        text = _plain(control.text()) if isinstance(control, QAbstractButton) else ""
        if not text and isinstance(control, QLineEdit):
            text = control.placeholderText()
        if not text and isinstance(control.parent(), QGroupBox):  # the box's title: "Captions per class"
            text = _plain(control.parent().title())
        control.setAccessibleName(text or _plain(control.toolTip().split("\n")[0]))


def _widgets_in(item) -> list[QWidget]:
    """The controls in a form's field: a widget and its children, or those of a (nested) layout."""
    if item.widget() is not None:
        return [w for w in (item.widget(), *item.widget().findChildren(QWidget)) if isinstance(w, CONTROLS)]
    layout = item.layout()
    return [] if layout is None else [w for i in range(layout.count()) for w in _widgets_in(layout.itemAt(i))]


def _internal(widget: QWidget) -> bool:
    """A part of another control (a table's corner button, a combo box's or spin box's line edit)."""
    parent = widget.parent()
    while parent is not None:
        if isinstance(parent, (QAbstractItemView, QComboBox, QAbstractSpinBox)):
            return True
        parent = parent.parent()
    return False


def open_in_file_manager(path: str, anchor: QWidget) -> bool:
    """Open `path` with the desktop's file manager; when there is none, say so beside `anchor`."""
    if QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
        return True
    QToolTip.showText(anchor.mapToGlobal(anchor.rect().bottomLeft()),
                      f"No file manager could open it here. The folder is:\n{path}", anchor)
    return False

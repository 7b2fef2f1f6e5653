"""The Try page's "Where it looked": a toggle for heat maps over its images (`flyp explain`'s), and
the class they are drawn for (each image's most likely class, or one class for every image)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QPushButton, QWidget


class LookedControl(QWidget):
    changed = Signal()  # heat maps turned on or off, or drawn for another class

    def __init__(self):
        super().__init__()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.looked = QPushButton("Where it looked", checkable=True)
        self.looked.setToolTip("Show over each image where the model looked to choose the class (red: most)")
        self.looked.toggled.connect(self._looked_changed)
        row.addWidget(self.looked)
        self.looked_class = QComboBox()
        self.looked_class.setToolTip("The class whose heat map is shown: each image's most likely class, or one "
                                     "class for every image")
        self.looked_class.addItem("for the most likely class", None)
        self.looked_class.currentIndexChanged.connect(lambda _: self._looked_changed())
        self.looked_class.hide()
        row.addWidget(self.looked_class)

    def set_classes(self, classes: list[str]) -> None:
        """The run's classes, offered after "for the most likely class"."""
        shown = [self.looked_class.itemText(i) for i in range(1, self.looked_class.count())]
        if shown != [f"for {name}" for name in classes]:
            self.looked_class.blockSignals(True)
            while self.looked_class.count() > 1:
                self.looked_class.removeItem(1)
            for i, name in enumerate(classes):
                self.looked_class.addItem(f"for {name}", i)
            self.looked_class.setCurrentIndex(0)
            self.looked_class.blockSignals(False)

    def _looked_changed(self, *_) -> None:
        self.looked_class.setVisible(self.looked.isChecked())
        self.changed.emit()

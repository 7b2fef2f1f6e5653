"""The Label page's larger view: the image being labelled, as large as the panel allows, with its
file name and the suggestion's likeliest classes."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout

PREVIEW = 384  # the side of the picture read for the view (it is scaled to the panel)
TOP = 3        # the classes listed under it


class LabelPreview(QFrame):
    """The current image, large. `show_image` names it (its picture arrives with `set_picture`)."""

    def __init__(self):
        super().__init__(objectName="labelPreview")
        self.setAccessibleName("The image being labelled, larger")
        self.setFrameShape(QFrame.StyledPanel)
        self.setMinimumWidth(220)
        layout = QVBoxLayout(self)
        self.picture = QLabel(alignment=Qt.AlignCenter)
        self.picture.setMinimumSize(200, 200)
        self.picture.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Ignored)  # the pixmap must not set the size
        layout.addWidget(self.picture, 1)
        self.name = QLabel("", wordWrap=True, textInteractionFlags=Qt.TextSelectableByMouse)
        layout.addWidget(self.name)
        self.guesses = QLabel("", wordWrap=True, objectName="pageHint")
        layout.addWidget(self.guesses)
        self.path = ""
        self._pixmap = QPixmap()

    def show_image(self, path: str, guesses: list[tuple[str, float]]) -> None:
        """Show `path` (its picture once `set_picture` brings it) and its likeliest classes."""
        if path != self.path:
            self.path, self._pixmap = path, QPixmap()
            self.picture.clear()
        self.name.setText(Path(path).name if path else "No image selected")
        self.name.setToolTip(path)
        self.guesses.setText("\n".join(f"{name}  {p:.0%}" for name, p in guesses[:TOP]) if guesses
                             else ("Suggestion: …" if path else ""))

    def set_picture(self, path: str, png: bytes) -> None:
        if path == self.path:
            self._pixmap = QPixmap.fromImage(QImage.fromData(png))
            self._scale()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._scale()

    def _scale(self) -> None:
        if not self._pixmap.isNull():
            self.picture.setPixmap(self._pixmap.scaled(self.picture.size(), Qt.KeepAspectRatio,
                                                       Qt.SmoothTransformation))

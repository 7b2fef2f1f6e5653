"""The Train page's "Kind of images": the training augmentation preset, with a preview of what
it does to one training image (the page makes the pictures in the background)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QComboBox, QGroupBox, QHBoxLayout, QLabel, QVBoxLayout

from core.training.config import AUGMENTATIONS, defaults, settings


class AugmentationPicker(QGroupBox):
    """A preset per kind of image; its description; a few augmented views of a training image."""

    changed = Signal(str)  # the preset's engine name

    def __init__(self, previews: int):
        super().__init__(settings()["augment"].label)
        layout = QVBoxLayout(self)
        self.combo = QComboBox()
        for key, text in AUGMENTATIONS.items():
            name, _, _ = text.partition(":")
            self.combo.addItem(name, key)
        self.combo.setToolTip("How training images are varied at random (cropped, flipped, turned) to suit your "
                              "kind of images; images are never varied for measuring accuracy")
        self.combo.activated.connect(lambda _: self._chosen())
        layout.addWidget(self.combo)
        self.note = QLabel("", objectName="pageHint", wordWrap=True)
        layout.addWidget(self.note)
        row = QHBoxLayout()
        self.pictures = [QLabel() for _ in range(previews)]
        for picture in self.pictures:
            row.addWidget(picture)
        row.addStretch(1)
        layout.addLayout(row)
        self.preview_note = QLabel("", objectName="pageHint", wordWrap=True)
        layout.addWidget(self.preview_note)
        self.load(defaults()["augment"])

    def load(self, augment: str) -> None:
        self.combo.setCurrentIndex(max(0, self.combo.findData(augment)))
        self._describe()

    def value(self) -> str:
        return self.combo.currentData()

    def show_preview(self, pngs: list[bytes]) -> None:
        """Augmented views of one training image, or none (no training folder yet)."""
        for picture, png in zip(self.pictures, pngs or [b""] * len(self.pictures)):
            picture.setPixmap(QPixmap.fromImage(QImage.fromData(png)) if png else QPixmap())
        self.preview_note.setText("One training image as four training steps see it." if pngs else
                                  "Choose a training folder on the Data page to see one of its images here.")

    def _describe(self) -> None:
        _, _, text = AUGMENTATIONS[self.value()].partition(":")
        text = text.strip()
        self.note.setText(f"{text[:1].upper()}{text[1:]}. Evaluation always sees the whole image.")

    def _chosen(self) -> None:
        self._describe()
        self.changed.emit(self.value())

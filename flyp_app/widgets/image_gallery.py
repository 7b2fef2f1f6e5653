"""A gallery of image thumbnails to act on: each image with a caption of its own under it and,
once the user acted on it (moved, left out, kept), a line saying so (grey until undone).

The Data page's search results and the Blend page's misclassified images. Thumbnails are made in
the background (`flyp_app.label_tasks.thumbnails`) unless given; double-click or Enter opens an image.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem

from flyp_app import label_tasks
from flyp_app.caches import THUMB_SIZE
from flyp_app.widgets.accessible import open_in_file_manager

PATH = Qt.UserRole
CAPTION = Qt.UserRole + 1
OVERLAID = Qt.UserRole + 2  # whether the image shows a picture of it in its place (its heat map)


class ImageGallery(QListWidget):
    """`show_images([(path, caption, tooltip)])` fills it; `selected_paths()` are the selected images not
    acted on yet; `selection(bool)` says whether there are any. `run` starts a task (`Page.run`).
    `set_overlays({path: PNG})` shows those pictures in place of the images (heat maps)."""

    selection = Signal(bool)

    def __init__(self, state, run, name: str, lines: int = 2):
        """`name`: for screen readers; `lines`: of text under each image, the status line included."""
        super().__init__()
        self.state, self._run = state, run
        self._pixmaps: dict[str, QPixmap] = {}
        self._overlays: dict[str, QPixmap] = {}
        self._thumb_worker = None
        self.setViewMode(QListView.IconMode)
        self.setIconSize(QSize(THUMB_SIZE, THUMB_SIZE))
        # Not uniform item sizes: every item would get the first one's text width.
        self.setGridSize(QSize(THUMB_SIZE + 24, THUMB_SIZE + 16 + 16 * lines))
        self.setResizeMode(QListView.Adjust)
        self.setMovement(QListView.Static)
        self.setWordWrap(True)
        self.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.setToolTip("Select images (Shift or Ctrl for several) to act on them; double-click one to open it")
        self.setAccessibleName(name)
        self.itemActivated.connect(lambda item: open_in_file_manager(item.data(PATH), self))
        self.itemSelectionChanged.connect(lambda: self.selection.emit(bool(self.selected_paths())))
        state.images_changed.connect(self.refresh_status)

    def show_images(self, images: list[tuple[str, str, str]], thumbs: dict[str, bytes] | None = None) -> None:
        """`images`: (path, caption, tooltip); `thumbs`: PNGs already made, by path."""
        for path, png in (thumbs or {}).items():
            if path not in self._pixmaps:
                self._pixmaps[path] = QPixmap.fromImage(QImage.fromData(png))
        self.setUpdatesEnabled(False)
        self.clear()
        for path, caption, tip in images:
            entry = QListWidgetItem("")
            entry.setToolTip(tip)
            entry.setData(PATH, path)
            entry.setData(CAPTION, caption)
            self._show_icon(entry)
            self.addItem(entry)
        self.setUpdatesEnabled(True)
        self.refresh_status()
        self.stop()
        missing = [path for path, *_ in images if path not in self._pixmaps]
        if missing:
            self._thumb_worker = self._run(label_tasks.thumbnails, self.state.caches, missing, THUMB_SIZE,
                                           on_event=self.set_thumbs)

    def stop(self) -> None:
        if self._thumb_worker is not None:
            self._thumb_worker.cancel()
            self._thumb_worker = None

    def set_thumbs(self, batch: dict[str, bytes]) -> None:
        for path, png in batch.items():
            self._pixmaps[path] = QPixmap.fromImage(QImage.fromData(png))
        for row in range(self.count()):
            entry = self.item(row)
            if entry.data(PATH) in batch:
                self._show_icon(entry)

    def set_overlays(self, pictures: dict[str, bytes]) -> None:
        """Show `pictures` (PNGs, by path) in place of those images; the others show themselves."""
        self._overlays = {path: QPixmap.fromImage(QImage.fromData(png)) for path, png in pictures.items()}
        for row in range(self.count()):
            self._show_icon(self.item(row))

    def _show_icon(self, entry: QListWidgetItem) -> None:
        path = entry.data(PATH)
        picture = self._overlays.get(path) or self._pixmaps.get(path)
        entry.setIcon(QIcon(picture) if picture is not None else QIcon())
        entry.setData(OVERLAID, path in self._overlays)

    def paths(self) -> list[str]:
        return [self.item(row).data(PATH) for row in range(self.count())]

    def refresh_status(self) -> None:
        """Each image's caption, and a line saying what was done with it (moved, left out, kept)."""
        for row in range(self.count()):
            entry = self.item(row)
            status = self.state.review.status(entry.data(PATH))
            entry.setText(entry.data(CAPTION) + (f"\n{status}" if status else ""))
            entry.setForeground(self.palette().placeholderText() if status else self.palette().text())
        self.selection.emit(bool(self.selected_paths()))

    def selected_paths(self) -> list[str]:
        paths = [entry.data(PATH) for entry in self.selectedItems()]
        return [p for p in paths if not self.state.review.status(p)]

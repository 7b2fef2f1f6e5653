"""The Label page's images: the grid of those left to label (`LabelGrid`) beside the larger view of
the current one (`LabelPreview`), and what is known of each (`LabelItem`: its suggestion, its cell)."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QSplitter

from flyp_app.widgets.label_grid import VIEWS, LabelGrid, LabelItem, cell_text, icon, in_view_order
from flyp_app.widgets.label_preview import LabelPreview


class LabelBoard(QSplitter):
    """The images to label ({path: `LabelItem`}), shown in the grid in the chosen view's order, the
    current one larger beside it (its picture asked for with `picture_wanted`)."""

    picture_wanted = Signal(str)  # the current image changed: read its larger picture

    def __init__(self):
        super().__init__(childrenCollapsible=False)
        self.grid = LabelGrid()
        self.preview = LabelPreview()
        self.addWidget(self.grid)
        self.addWidget(self.preview)
        self.setStretchFactor(0, 3)
        self.setStretchFactor(1, 2)
        self.preview.setMaximumWidth(520)
        self.items: dict[str, LabelItem] = {}
        self.thumbs: dict[str, bytes] = {}       # path → PNG, kept while the folder is open
        self.removed: dict[str, LabelItem] = {}  # labelled images, to bring back on undo
        self.classes: list[str] = []
        self.display: Callable[[str], str] = str
        self.view = VIEWS[0]
        self._sized = False
        self.grid.currentItemChanged.connect(lambda *_: self.show_current())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if not self._sized and self.width() > 0:  # at first the grid takes 3/5, the larger view the rest
            self._sized = True
            self.setSizes([self.width() * 3 // 5, self.width() - self.width() * 3 // 5])

    def set_classes(self, classes: list[str], display: Callable[[str], str]) -> None:
        """The classes the suggestions are over, and their names as shown; every cell says them again."""
        self.classes, self.display = classes, display
        for item in self.items.values():
            if item.probs is not None and len(item.probs) != len(classes):
                item.probs = None  # a class was added: suggested again
            self.render(item)

    def clear(self) -> None:
        self.items, self.thumbs, self.removed = {}, {}, {}
        self.grid.clear()
        self.preview.show_image("", [])

    def add(self, paths: list[str]) -> None:
        for path in paths:
            self.items[path] = LabelItem(path, len(self.items))
        self.arrange()

    def set_thumbs(self, batch: dict[str, bytes]) -> None:
        for path, png in batch.items():
            item = self.items.get(path)
            if item is not None and item.widget is not None:
                item.widget.setIcon(icon(png))
        self.thumbs.update(batch)

    def suggested(self, batch: dict) -> None:
        """New suggestions ({"probs": {path: [p per class]}, "known": {path: bool}}) shown where they belong."""
        for key in ("probs", "known"):
            for path, value in batch.get(key, {}).items():
                if (item := self.items.get(path)) is not None:
                    setattr(item, key, value)
                    self.render(item)

    def render(self, item: LabelItem) -> None:
        if item.widget is not None:
            text, tip = cell_text(item, self.classes, self.display)
            item.widget.setText(text)
            item.widget.setToolTip(tip)
        if item.path == self.preview.path:
            self.show_current()

    def arrange(self, view: str | None = None) -> None:
        """Fill the grid in `view`'s order (by default the last one); the first image is the one to label next."""
        self.view = view or self.view
        self.grid.fill(in_view_order(list(self.items.values()), self.view, self.classes), self.thumbs)
        for item in self.items.values():
            self.render(item)

    def selected(self) -> list[LabelItem]:
        return [self.items[w.data(Qt.UserRole)] for w in self.grid.selectedItems() if w.data(Qt.UserRole) in self.items]

    def remove(self, path: str) -> None:
        """A labelled image leaves the grid (kept, to come back on undo)."""
        item = self.items.pop(path, None)
        if item is not None and item.widget is not None:
            self.grid.take(item)
            self.removed[path] = item

    def put_back(self, paths: list[str]) -> None:
        """Images whose labelling was undone come back, the last of them selected."""
        for path in paths:
            item = self.removed.pop(path, None) or LabelItem(path, len(self.items))
            self.items[item.path] = item
        self.arrange()
        if paths and (last := self.items.get(paths[-1])) is not None and last.widget is not None:
            self.grid.select_row(self.grid.row(last.widget))

    def show_current(self) -> None:
        """The larger view follows the current image: its picture and its likeliest classes."""
        item = self.items.get(self.grid.current_path())
        if item is None:
            self.preview.show_image("", [])
            return
        guesses = sorted(((self.display(c), p) for c, p in zip(self.classes, item.probs or [])), key=lambda g: -g[1])
        fresh = item.path != self.preview.path
        self.preview.show_image(item.path, guesses)
        if fresh:
            self.picture_wanted.emit(item.path)

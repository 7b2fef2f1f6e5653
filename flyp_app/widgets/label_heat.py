"""The Label page's "Where it looked": on request, the selected images of the grid show where the
model that suggests their class looked (`flyp_app.trust_tasks.explain_source`), for the suggested
class, the model's own most likely class, or one class picked; computed in the background as the
selection moves, so that the image being labelled shows its map."""

from __future__ import annotations

import json
from functools import partial
from typing import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QIcon, QImage, QPixmap

from flyp_app import trust_tasks
from flyp_app.widgets.heat_choice import EACH_OWN, HeatChoice

HEAT_SHOWN = Qt.UserRole + 2  # a grid item's data: whether its icon is a heat map


class LabelHeat(QObject):
    """`choice` is the control to place on the page. `grid` is the page's `LabelGrid`; `run`
    starts a task (`Page.run`); `source()` is the suggestions' source, `device()` the device,
    `items()` the page's {path: LabelItem}, `classes()` its class folders and `thumb(path)` an
    image's thumbnail (PNG bytes, or None), shown again when its map goes."""

    def __init__(self, grid, run: Callable, caches, source: Callable, device: Callable, items: Callable,
                 classes: Callable, thumb: Callable):
        super().__init__(grid)
        self.grid, self._run, self.caches = grid, run, caches
        self._source, self._device, self._items, self._classes, self._thumb = source, device, items, classes, thumb
        self.choice = HeatChoice(most_likely="for the model's most likely class", own="for the suggested class",
                                 tip="Show over the selected images where the model looked (red: most), for "
                                     "the suggested class or one class picked")
        self.choice.classes.setCurrentIndex(1)  # the suggestion: the class the user is asked about
        self.choice.changed.connect(self.refresh)
        grid.itemSelectionChanged.connect(self.refresh)
        self.maps: dict[tuple, QPixmap] = {}  # (source, class or None, path) → the image with its heat map
        self._worker = None
        self._shown: set[str] = set()  # the images whose grid cell shows a map

    def set_classes(self, names: list[str]) -> None:
        self.choice.set_classes(names)

    def _class_of(self, path: str) -> tuple[bool, str | None]:
        """(whether a map can be asked for, the class folder it is for: None for the model's most likely)."""
        choice, item = self.choice.class_index(), self._items().get(path)
        if item is None:
            return False, None
        if choice == EACH_OWN:
            suggestion = item.suggestion(self._classes())
            return suggestion is not None, suggestion[0] if suggestion else None  # none yet: once there is one
        return True, None if choice is None else self._classes()[choice]

    def _key(self, path: str) -> tuple | None:
        """The map `path` should show now, or None for the image itself."""
        if not self.choice.on():
            return None
        wanted, name = self._class_of(path)
        return (json.dumps(self._source(), sort_keys=True), name, path) if wanted else None

    def show(self) -> None:
        """The selected images with their maps (those there are), the others as themselves: only
        the selected and those showing a map are looked at, not the whole grid on every key."""
        items, selected = self._items(), {w.data(Qt.UserRole) for w in self.grid.selectedItems()}
        for path in selected | self._shown:
            widget = item.widget if (item := items.get(path)) is not None else None
            key = self._key(path) if path in selected else None
            heat = self.maps.get(key) if key is not None else None
            if widget is None:
                self._shown.discard(path)
            elif heat is not None:
                widget.setIcon(QIcon(heat))
                self._shown.add(path)
            elif path in self._shown:
                self._shown.discard(path)
                if (thumb := self._thumb(path)) is not None:
                    widget.setIcon(QIcon(QPixmap.fromImage(QImage.fromData(thumb))))
            if widget is not None:
                widget.setData(HEAT_SHOWN, heat is not None)

    def refresh(self) -> None:
        """Show the maps there are for the selected images, and compute those missing."""
        self.show()
        todo = []
        for widget in self.grid.selectedItems():
            path = widget.data(Qt.UserRole)
            key = self._key(path)
            if key is not None and key not in self.maps:
                todo.append({"key": path, "name": path, "path": path, "data": None}
                            | ({"class": key[1]} if key[1] else {}))
        if self._worker is not None:
            self._worker.cancel()
        if todo:
            source = self._source()
            self._worker = self._run(trust_tasks.explain_source, self.caches, source, self._device(),
                                     json.dumps(source, sort_keys=True), todo, None,
                                     on_event=partial(self._arrived, {item["key"]: item.get("class") for item in todo}))

    def _arrived(self, classes: dict, answer: dict) -> None:
        if "png" in answer:
            self.maps[(answer["target"], classes[answer["key"]], answer["key"])] = \
                QPixmap.fromImage(QImage.fromData(answer["png"]))
            self.show()

    def forget(self) -> None:
        """New suggestions or another folder: the maps are made again when asked."""
        if self._worker is not None:
            self._worker.cancel()
        self.maps.clear()
        self._shown.clear()

"""The map's plot: one point per image, coloured by class or by folder, marks for suspicious
labels and unknown images, hover, click and a free-hand lasso (`flyp_app.widgets.project_map`
holds it and what acts on the selection).

Mouse: drag with the left button draws a lasso around the points to select (Ctrl or Shift adds
to the selection; no point shows its image meanwhile), a click beside the points or Escape
empties the selection, the wheel zooms, a drag with the right button zooms one axis, the middle
button pans; a click on a point opens its image. This module imports pyqtgraph: the Data page
builds the plot when the map is first shown.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QPolygonF

from flyp_app.theme import ACCENT, ERROR_COLOUR, pyqtgraph

pg = pyqtgraph()

SYMBOLS = {"training": "o", "validation": "s"}  # each different-conditions folder: "d"
UNKNOWN_SYMBOL = "star"
SIZES = ((300, 9), (1500, 7), (None, 5))  # (up to how many points, their size): thousands must not hide each other
FADED = "#c8ccd2"  # an image acted on (moved, left out, kept) since the map was drawn


class LassoBox(pg.ViewBox):
    """A view box whose left-button drag draws a lasso instead of panning; `lassoed(polygon, add)`
    gives the lasso in data coordinates when the button is released; `clicked_beside(add)`: a
    left click on no point (the points take the clicks on them)."""

    lassoed = Signal(object, bool)
    clicked_beside = Signal(bool)

    def __init__(self):
        super().__init__()
        self._trail: list[QPointF] = []
        self.line = pg.PlotCurveItem(pen=pg.mkPen(ACCENT, width=1.5, style=Qt.DashLine))
        self.line.setZValue(20)
        self.addItem(self.line, ignoreBounds=True)

    def drawing(self) -> bool:
        """Whether a lasso is being drawn (the left button is down and has moved)."""
        return bool(self._trail)

    def mouseClickEvent(self, ev) -> None:
        if ev.button() != Qt.LeftButton:
            super().mouseClickEvent(ev)
            return
        ev.accept()
        self.clicked_beside.emit(bool(ev.modifiers() & (Qt.ControlModifier | Qt.ShiftModifier)))

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() != Qt.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        if ev.isStart():
            self._trail = []
        self._trail.append(self.mapToView(ev.pos()))
        self.line.setData([p.x() for p in self._trail] + [self._trail[0].x()],
                          [p.y() for p in self._trail] + [self._trail[0].y()])
        if ev.isFinish():
            add = bool(ev.modifiers() & (Qt.ControlModifier | Qt.ShiftModifier))
            self.line.setData([], [])
            if len(self._trail) > 2:
                self.lassoed.emit(QPolygonF(self._trail), add)
            self._trail = []


class MapPlot(pg.PlotWidget):
    """`show_points(points, colours)`; `set_marks(...)`; signals: `hovered(index or -1)`,
    `clicked(index)`, `selection_changed()`. `selected` holds the selected points' indices."""

    hovered = Signal(int)
    clicked = Signal(int)
    selection_changed = Signal()

    def __init__(self):
        self.box = LassoBox()
        super().__init__(background="w", viewBox=self.box)
        self.setMenuEnabled(False)
        for axis in ("left", "bottom"):
            self.getPlotItem().hideAxis(axis)
        # Not locked to equal axes: the map's axes mean nothing, and below the class table the plot is
        # wide and low — a round map would fill a sixth of it.
        self.setToolTip("Each point is an image; near points look alike to the model. Draw around points to "
                        "select them (Ctrl or Shift adds); the wheel zooms; click a point to open its image.")
        self.setAccessibleName("Map of the project's images")
        self.scatter = pg.ScatterPlotItem(hoverable=True, tip=None)
        self.addItem(self.scatter)
        self.scatter.sigHovered.connect(self._hovered)
        self.scatter.sigClicked.connect(self._clicked)
        self.box.lassoed.connect(self.select_polygon)
        self.box.clicked_beside.connect(lambda add: add or self.clear_selection())
        self.setFocusPolicy(Qt.StrongFocus)  # Escape empties the selection
        self.points: list[dict] = []
        self.selected: set[int] = set()
        self._colours: list[str] = []
        self._suspicious: set[int] = set()
        self._faded: set[int] = set()
        self._hover = -1

    def show_points(self, points: list[dict], colours: list[str]) -> None:
        """Draw `points` ({"x", "y", "set", "known"}) in `colours` (one per point); the selection is emptied."""
        self.points, self._colours = points, colours
        self.selected, self._suspicious, self._faded = set(), set(), set()
        self._draw()
        self.box.autoRange(padding=0.05)
        self.selection_changed.emit()

    def recolour(self, colours: list[str]) -> None:
        self._colours = colours
        self._draw()

    def set_marks(self, suspicious: set[int], faded: set[int]) -> None:
        """Outline the points with a suspicious label; fade those acted on."""
        self._suspicious, self._faded = suspicious, faded
        self._draw()

    def _draw(self) -> None:
        size = next(s for n, s in SIZES if n is None or len(self.points) <= n)
        plain = pg.mkPen("w", width=0.8) if size > 5 else pg.mkPen(None)
        spots = []
        for i, p in enumerate(self.points):
            unknown = p.get("known") is False
            marked = unknown or i in self._suspicious
            if i in self.selected:
                pen = pg.mkPen("#1f2a3a", width=2.5)
            elif i in self._suspicious:
                pen = pg.mkPen(ERROR_COLOUR, width=1.5)
            else:
                pen = plain
            colour = FADED if i in self._faded else self._colours[i]
            spots.append({"pos": (p["x"], p["y"]), "data": i, "brush": pg.mkBrush(colour), "pen": pen,
                          "size": size + 4 if i in self.selected else size + 3 if marked else size,
                          "symbol": UNKNOWN_SYMBOL if unknown else SYMBOLS.get(p["set"], "d")})
        self.scatter.setData(spots)

    def select_polygon(self, polygon: QPolygonF, add: bool = False) -> None:
        """Select the points inside `polygon` (data coordinates); `add` keeps those selected before."""
        inside = {i for i, p in enumerate(self.points)
                  if polygon.containsPoint(QPointF(p["x"], p["y"]), Qt.OddEvenFill)}
        self.selected = (self.selected | inside) if add else inside
        self._draw()
        self.selection_changed.emit()

    def clear_selection(self) -> None:
        self.deselect(self.selected)

    def deselect(self, indices) -> None:
        """Take the points `indices` out of the selection (those acted on: they are done)."""
        if self.selected & set(indices):
            self.selected = self.selected - set(indices)
            self._draw()
            self.selection_changed.emit()

    def keyPressEvent(self, ev) -> None:
        if ev.key() == Qt.Key_Escape and self.selected:
            self.clear_selection()
            ev.accept()
            return
        super().keyPressEvent(ev)

    def _hovered(self, _item, spots, _ev) -> None:
        if self.box.drawing():  # the points under a lasso being drawn are not being looked at
            self._hover = -1
            return
        index = int(spots[0].data()) if len(spots) else -1
        if index != self._hover:
            self._hover = index
            self.hovered.emit(index)

    def _clicked(self, _item, spots, _ev) -> None:
        if len(spots):
            self.clicked.emit(int(spots[0].data()))


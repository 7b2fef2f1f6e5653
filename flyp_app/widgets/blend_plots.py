"""The Blend page's plots: accuracy against α, and the ID-vs-OOD robustness plot.

Both take a curve computed once (α = 0, 0.1, …, 1) and a cheap `set_alpha` that only moves
markers, so dragging the slider redraws a handful of points.

This module imports pyqtgraph: the Blend page imports it when its plots are first needed, so
that the window opens without it.
"""

from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QGridLayout, QStackedWidget, QWidget

from flyp_app.theme import ACCENT, ID_COLOUR, ZERO_SHOT_COLOUR, pyqtgraph
from flyp_app.widgets.legend import LegendLine

pg = pyqtgraph()

INK = "#333333"
PLOT_HEIGHT = 175  # with two lines of legend below (three sets and their mean), within the 220 px the
                   # Blend page keeps for its plots: taller, the legend covered the axis' words


def _percent(values: Sequence[float]) -> list[float]:
    return [100.0 * v for v in values]


def _quiet(plot: pg.PlotWidget) -> None:
    """A plot to read, not to explore: light, no mouse zoom, no context menu, a faint grid."""
    for name in ("left", "bottom"):
        plot.getAxis(name).setPen(INK)
        plot.getAxis(name).setTextPen(INK)
    plot.setMouseEnabled(x=False, y=False)
    plot.setMenuEnabled(False)
    plot.hideButtons()
    plot.showGrid(x=True, y=True, alpha=0.15)
    plot.setMinimumHeight(200)
    # pyqtgraph puts the bottom axis' words 5 px below the axis, past the plot's edge: their descenders
    # were cut (and under a legend line, half the words)
    plot.getPlotItem().layout.setContentsMargins(1, 1, 1, 6)


class PercentAxis(pg.AxisItem):
    """Accuracy ticks: none beyond 0–100 %, however much room the view leaves for labels."""

    def tickStrings(self, values, scale, spacing):
        strings = super().tickStrings(values, scale, spacing)
        return [s if -1e-9 <= v * scale <= 100 + 1e-9 else "" for v, s in zip(values, strings)]


def _pad(low: float, high: float, share: float, floor: float = 2.0) -> tuple[float, float]:
    span = max(high - low, floor)
    return low - share * span, high + share * span


def _pad_pixels(low: float, high: float, share: float, room: tuple[float, float], pixels: float,
                floor: float = 2.0) -> tuple[float, float]:
    """`low`…`high` widened by `share` of its span and by `room` pixels (below, above) of a view
    `pixels` long: the range R with span + share·span + (room below + above)·R / pixels = R."""
    span = max(high - low, floor)
    fraction = min(sum(room) / pixels, 0.6) if pixels > 0 else 0.0  # a tiny view: the words may overlap
    total = span * (1 + 2 * share) / (1 - fraction)
    extra = total - span * (1 + 2 * share)
    below = extra * room[0] / sum(room) if sum(room) else 0.0
    return low - share * span - below, high + share * span + extra - below


class AlphaPlot(pg.PlotWidget):
    """Accuracy (%) of each evaluation set against α, with a draggable line at the current α."""

    alpha_dragged = Signal(float)

    def __init__(self):
        super().__init__(background="w", axisItems={"left": PercentAxis("left")})
        _quiet(self)
        self.setTitle("Accuracy as you blend", size="10pt", color=INK)
        self.setLabel("bottom", "α   (0 = zero-shot, 1 = finetuned)")
        self.setLabel("left", "accuracy (%)")
        self.setXRange(0, 1, padding=0.03)
        self.setYRange(0, 100, padding=0.03)  # empty, it still reads as percent: 0 … 100 %, not 0 … 1
        self.legend = LegendLine()  # for the page to place below the plot: inside, it would cover the curves
        self.line = pg.InfiniteLine(angle=90, movable=True, bounds=(0, 1),
                                    pen=pg.mkPen(ACCENT, width=1.5, style=Qt.DashLine),
                                    hoverPen=pg.mkPen(ACCENT, width=3))
        self.line.setToolTip("Drag to change α")
        self.line.sigDragged.connect(lambda line: self.alpha_dragged.emit(float(line.value())))
        self.addItem(self.line)
        self.markers = pg.ScatterPlotItem(size=12, pen=pg.mkPen("w", width=1.5))
        self.markers.setZValue(10)
        self.addItem(self.markers)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._colours: list[str] = []

    def set_curve(self, alphas: Sequence[float], series: dict[str, tuple[Sequence[float], str, bool]]) -> None:
        """`series`: {label: (accuracies, colour, dashed)} at `alphas`."""
        for item in self.curves.values():
            self.removeItem(item)
        self.legend.clear()
        self.curves, self._colours = {}, []
        lows, highs = [], []
        for label, (values, colour, dashed) in series.items():
            pen = pg.mkPen(colour, width=2, style=Qt.DashLine if dashed else Qt.SolidLine)
            self.curves[label] = self.plot(list(alphas), _percent(values), pen=pen, symbol="o", symbolSize=5,
                                           symbolBrush=colour, symbolPen=None)
            self.legend.add(label, colour, "dashed" if dashed else "line")
            self._colours.append(colour)
            lows.append(min(values))
            highs.append(max(values))
        if series:
            self.setYRange(*_pad(100 * min(lows), 100 * max(highs), 0.12), padding=0)
        else:
            self.setYRange(0, 100, padding=0.03)
        self.markers.clear()

    def set_alpha(self, alpha: float, values: Sequence[float]) -> None:
        """Move the line and one marker per series to α (values: the accuracies there)."""
        self.line.setValue(alpha)
        self.markers.setData(x=[alpha] * len(values), y=_percent(values),
                             brush=[pg.mkBrush(c) for c in self._colours[:len(values)]])


class RobustnessPlot(pg.PlotWidget):
    """Mean accuracy under different conditions (y) against validation accuracy (x), one point per α."""

    def __init__(self):
        super().__init__(background="w", axisItems={"left": PercentAxis("left"), "bottom": PercentAxis("bottom")})
        _quiet(self)
        self.setTitle("Robustness: validation vs different conditions", size="10pt", color=INK)
        self.setLabel("bottom", "validation accuracy (%)")
        self.setLabel("left", "different conditions (%)")
        self.curve = self.plot([], [], pen=pg.mkPen("#9aa5b1", width=2), symbol="o", symbolSize=6,
                               symbolBrush="#9aa5b1", symbolPen=None)
        self.ends = pg.ScatterPlotItem(size=11, pen=pg.mkPen("w", width=1.5))
        self.addItem(self.ends)
        # zero-shot below its end (the curve leaves it sideways), finetuned above, the current α below
        # right of the star
        self.labels = [pg.TextItem("zero-shot", color=ZERO_SHOT_COLOUR, anchor=(0.3, -0.3)),
                       pg.TextItem("finetuned", color=ID_COLOUR, anchor=(0.5, 1.25))]
        for label in self.labels:
            label.hide()  # an empty TextItem in an empty view repaints itself endlessly
            self.addItem(label)
        self.marker = pg.ScatterPlotItem(size=20, symbol="star", brush=pg.mkBrush(ACCENT), pen=pg.mkPen("w", width=1))
        self.marker.setZValue(10)
        self.addItem(self.marker)
        self.marker_label = pg.TextItem("", color=ACCENT, anchor=(-0.12, -0.15))
        self.marker_label.setZValue(10)
        self.marker_label.hide()
        self.addItem(self.marker_label)
        self.legend = LegendLine()  # below the plot, as the accuracy plot's beside it
        self.legend.add("blends, α = 0 … 1", "#9aa5b1")
        self.legend.add("α chosen with the slider", ACCENT, "star")
        self._data_box: tuple[float, float, float, float] | None = None  # the curve's, in percent
        self.getViewBox().sigResized.connect(lambda _: self._fit_range())
        self.clear_curve()

    def clear_curve(self) -> None:
        """No curve (another run is loading): nothing of the last run, percent axes 0 … 100."""
        self.curve.setData([], [])
        self.ends.setData([], [])
        self.marker.setData([], [])
        for label in (*self.labels, self.marker_label):
            label.hide()
        self._data_box = None
        self.setXRange(0, 100, padding=0.03)
        self.setYRange(0, 100, padding=0.03)

    def set_curve(self, id_accuracy: Sequence[float], ood_accuracy: Sequence[float]) -> None:
        xs, ys = _percent(id_accuracy), _percent(ood_accuracy)
        self.curve.setData(xs, ys)
        self.ends.setData(x=[xs[0], xs[-1]], y=[ys[0], ys[-1]],
                          brush=[pg.mkBrush(ZERO_SHOT_COLOUR), pg.mkBrush(ID_COLOUR)])
        for label, x, y in zip(self.labels, (xs[0], xs[-1]), (ys[0], ys[-1])):
            label.setPos(x, y)
            label.show()
        self._data_box = (min(xs), max(xs), min(ys), max(ys))
        self._fit_range()

    def _fit_range(self) -> None:
        """The curve's box with room, in pixels, for the words at its ends: a share of the span
        alone left "finetuned" cut at the top and "α = 0.50" at the right in a small window."""
        if self._data_box is None:
            return
        low_x, high_x, low_y, high_y = self._data_box
        view = self.getViewBox().size()
        words_high = 1.35 * self.labels[0].boundingRect().height()  # "zero-shot" 1.3 of its height below its point
        words_wide = 1.15 * QFontMetrics(self.marker_label.textItem.font()).horizontalAdvance("α = 0.00") + 10
        self.setXRange(*_pad_pixels(low_x, high_x, 0.08, (words_wide / 2, words_wide), view.width()), padding=0)
        self.setYRange(*_pad_pixels(low_y, high_y, 0.08, (words_high, words_high), view.height()), padding=0)

    def set_alpha(self, alpha: float, id_accuracy: float, ood_accuracy: float) -> None:
        x, y = 100 * id_accuracy, 100 * ood_accuracy
        self.marker.setData(x=[x], y=[y])
        self.marker_label.setText(f"α = {alpha:.2f}")
        self.marker_label.setPos(x, y)
        self.marker_label.show()


class BlendPlotPanel(QWidget):
    """The Blend page's two plots side by side, their legends below them; the robustness plot
    shares a stack with `note` (shown instead once a run has no different-conditions set)."""

    def __init__(self, alpha: float, stack: QStackedWidget):
        super().__init__(objectName="plotPanel")
        self.alpha_plot = AlphaPlot()
        self.alpha_plot.line.setValue(alpha)  # the project's α while the curve loads, not 0
        self.robust_plot = RobustnessPlot()
        for plot in (self.alpha_plot, self.robust_plot):
            plot.setMinimumHeight(PLOT_HEIGHT)
        stack.insertWidget(0, self.robust_plot)
        stack.setCurrentWidget(self.robust_plot)  # the note only once a curve shows there is no OOD set
        # A grid, so that the two plots keep the same height whatever their legends below take.
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 4)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(0)
        grid.addWidget(self.alpha_plot, 0, 0)
        grid.addWidget(stack, 0, 1)
        grid.addWidget(self.alpha_plot.legend, 1, 0)
        grid.addWidget(self.robust_plot.legend, 1, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(0, 1)

"""The Train page's live plots: loss per step, ID/OOD accuracy per evaluation, learning rate.

`flyp_app.curves.Curves` is a plain record of one run (no Qt), filled from training events or from
a run's `metrics.jsonl`, so a worker can build it off the UI thread. `TrainingPlots` draws a `Curves`
when asked (`redraw`); the page calls it a few times a second, never per training step.
pyqtgraph is imported when the plots are first needed, so the window opens without it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from flyp_app.theme import ID_COLOUR, LOSS_COLOUR, LR_COLOUR, ZERO_SHOT_COLOUR, ood_colour
from flyp_app.curves import Curves
from flyp_app.widgets.legend import LegendLine

INK = "#333333"
MIN_HEIGHT = 240  # below it the three plots' axis titles run into each other (the page's column keeps it)


def set_label(name: str) -> str:
    return "validation (ID)" if name == "id" else name


class TrainingPlots(QWidget):
    """Accuracy (top, largest), loss and learning rate, sharing the step axis; above them the legend's
    line, which may begin with a caption (`set_caption`), hidden while it has nothing to say."""

    def __init__(self):
        super().__init__()
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.legend = LegendLine()  # above the plots: inside, it would hide the curves
        self.legend.hide()
        self.layout_.addWidget(self.legend)
        self.placeholder = QLabel("The curves of a run appear here.", objectName="pageHint")
        self.layout_.addWidget(self.placeholder)
        self.graphics = None
        self.curves: Curves | None = None
        self._set_items: dict[str, object] = {}
        self._baseline_items: dict[str, object] = {}
        self._new_run = True

    # Building (on first use) ------------------------------------------------------------------
    def ensure_built(self) -> None:
        if self.graphics is not None:
            return
        from flyp_app.theme import pyqtgraph

        self.pg = pg = pyqtgraph()
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.ci.setSpacing(4)
        self.accuracy = self._plot(0, "accuracy (%)")
        self.loss = self._plot(1, "loss")
        self.lr = self._plot(2, "learning rate", axis=_compact_axis(pg))
        self.graphics.setToolTip("Accuracy on each evaluation set (dashed: zero-shot, before training); the loss "
                                 "of every step (faint) and smoothed; the learning rate schedule.")
        self.lr.getAxis("bottom").setLabel("training step", color=INK)
        for plot in (self.accuracy, self.loss):
            plot.getAxis("bottom").setStyle(showValues=False)
        for plot in (self.loss, self.lr):
            plot.setXLink(self.accuracy)
        layout = self.graphics.ci.layout
        for row, stretch in enumerate((6, 4, 3)):
            layout.setRowStretchFactor(row, stretch)
        self.raw_loss = self._line(self.loss, (*_rgb(LOSS_COLOUR), 70), 1)
        self.smooth_loss = self._line(self.loss, LOSS_COLOUR, 2)
        self.lr_line = self._line(self.lr, LR_COLOUR, 2)
        self.best_marker = pg.ScatterPlotItem(symbol="star", size=16, brush=ID_COLOUR, pen=pg.mkPen("w", width=1))
        self.best_marker.setZValue(10)  # above the set's own point at that step
        self.accuracy.addItem(self.best_marker)
        self._best_in_legend = False
        self.layout_.replaceWidget(self.placeholder, self.graphics)
        self.placeholder.hide()

    def _plot(self, row: int, label: str, axis=None):
        plot = self.graphics.addPlot(row=row, col=0, axisItems={"left": axis} if axis else None)
        for name in ("left", "bottom"):
            axis = plot.getAxis(name)
            axis.setPen(INK)
            axis.setTextPen(INK)
        plot.getAxis("left").setWidth(64)  # equal widths keep the three step axes aligned
        plot.setLabel("left", label, color=INK, **{"font-size": "9pt"})
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        return plot

    def _line(self, plot, colour, width: float):
        item = plot.plot(pen=self.pg.mkPen(colour, width=width))
        item.setDownsampling(auto=True, method="peak")  # a long run stays cheap to draw
        item.setClipToView(True)
        item.setSkipFiniteCheck(True)
        return item

    # Drawing ----------------------------------------------------------------------------------
    def show_curves(self, curves: Curves | None) -> None:
        """Show another run (or none); drawn now if the plots are on screen, else when shown."""
        self.curves = curves
        self._new_run = True
        self.redraw()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.graphics is None:
            self.redraw()

    def redraw(self) -> None:
        """Push the current points to the plot items (cheap enough for a few times a second)."""
        if self.graphics is None:
            if not self.isVisible():
                return  # nothing to see yet: pyqtgraph loads when the page is first shown
            self.ensure_built()
        if self._new_run:
            for item in [*self._set_items.values(), *self._baseline_items.values()]:
                self.accuracy.removeItem(item)
            self.legend.clear()
            self._set_items, self._baseline_items = {}, {}
            self._new_run = self._best_in_legend = False
        c = self.curves or Curves()
        self.raw_loss.setData(c.steps, c.loss)
        self.smooth_loss.setData(c.steps, c.smooth)
        self.lr_line.setData(c.steps, c.lr)
        for i, (name, (steps, values)) in enumerate(c.evals.items()):
            self._set_item(name, i).setData(steps, values)
        for i, (name, accuracy) in enumerate(c.baseline.items()):
            if name not in self._baseline_items:
                self._add_baseline(name, i, accuracy)
        self.best_marker.setData(*([[c.starred[0]], [c.starred[1]]] if c.starred else [[], []]))
        if c.starred and not self._best_in_legend:
            self.legend.add("best: the checkpoint kept", ID_COLOUR, "star")
            self._best_in_legend = True
        self.accuracy.setXRange(0, max(c.total_steps or 0, c.last_step, 1), padding=0.02)
        if c.evals:
            values = [v for _, vs in c.evals.values() for v in vs]
            low, high = min(values), max(values)
            pad = max(2.0, 0.1 * (high - low))
            self.accuracy.setYRange(max(0.0, low - pad), min(103.0, high + pad), padding=0)  # 100% stays visible
        else:  # no run, or none evaluated yet: percent from 0 to 100, not the last run's range
            self.accuracy.setYRange(0, 100, padding=0.02)
        self._show_legend()

    def set_caption(self, text: str) -> None:
        """What the plots are of ("Showing: run"), at the start of the legend's line."""
        self.legend.set_caption(text)
        self._show_legend()

    def _show_legend(self) -> None:
        self.legend.setVisible(bool(self.legend.entries or self.legend.caption))

    def _set_item(self, name: str, index: int):
        if name not in self._set_items:
            colour = ID_COLOUR if name == "id" else ood_colour(index - 1)
            pg = self.pg
            item = self.accuracy.plot(pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=6,
                                      symbolBrush=colour, symbolPen=None)
            self.legend.add(set_label(name), colour)
            self._set_items[name] = item
        return self._set_items[name]

    def _add_baseline(self, name: str, index: int, accuracy: float) -> None:
        pg = self.pg
        colour = ID_COLOUR if name == "id" else ood_colour(index - 1)
        line = pg.InfiniteLine(pos=accuracy, angle=0, movable=False,
                               pen=pg.mkPen(colour, width=1.5, style=Qt.DashLine))
        self.accuracy.addItem(line)
        self._baseline_items[name] = line
        if len(self._baseline_items) == 1:  # one legend entry explains every dashed line
            self.legend.add("zero-shot (before training)", ZERO_SHOT_COLOUR, "dashed")

    # What tests and the page read ------------------------------------------------------------
    def point_counts(self) -> dict[str, int]:
        """Points drawn per item: loss, lr and each evaluation set."""
        if self.graphics is None:
            return {}
        counts = {"loss": _count(self.raw_loss), "smooth": _count(self.smooth_loss), "lr": _count(self.lr_line)}
        counts.update({f"acc:{name}": _count(item) for name, item in self._set_items.items()})
        counts.update({f"zero-shot:{name}": 1 for name in self._baseline_items})
        return counts


def _compact_axis(pg):
    """A left axis that writes 2e-05 rather than a scale factor nobody reads."""

    class CompactAxis(pg.AxisItem):
        def tickStrings(self, values, scale, spacing):
            return [f"{v:.2g}" for v in values]

    axis = CompactAxis(orientation="left")
    axis.enableAutoSIPrefix(False)
    return axis


def _count(item) -> int:
    x = item.getData()[0]
    return 0 if x is None else len(x)


def _rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)

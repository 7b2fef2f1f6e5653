"""The Compare page's plot, the FLYP paper's figure: OOD accuracy (y) against ID accuracy (x).

One weight-ensembling curve per run (α = 0 … 1, from the zero-shot model to the finetuned
one), the zero-shot point marked once, and on each curve the α with the best ID accuracy — the
model that α-selection on validation data would keep — drawn large.

This module imports pyqtgraph: the Compare page imports it when its plot is first needed.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from flyp_app.theme import ZERO_SHOT_COLOUR, pyqtgraph, run_colour
from flyp_app.widgets.blend_plots import INK, PercentAxis, _pad, _quiet
from flyp_app.widgets.legend import LegendLine

pg = pyqtgraph()


# Where the zero-shot point's words go: the curves all leave that point, mostly to the right
# (finetuning raises ID accuracy), up or down; the words sit below it when they rise, else above.
BELOW, ABOVE = (0.3, -0.3), (0.3, 1.3)


class ComparePlot(pg.PlotWidget):
    """`set_rows(rows)` draws every row of `core.weights.compare.compare_runs` that has a curve with OOD values."""

    def __init__(self):
        super().__init__(background="w", axisItems={"left": PercentAxis("left"), "bottom": PercentAxis("bottom")})
        _quiet(self)
        self.setTitle("OOD vs ID accuracy as each run is blended with the zero-shot model (α = 0 … 1)",
                      size="10pt", color=INK)
        self.setLabel("bottom", "ID validation accuracy (%)")
        self.setLabel("left", "different conditions, mean (%)")
        # For the page to place above the plot: inside, any corner hides a curve (one that loses
        # robustness as it blends runs through the bottom left, from the zero-shot point).
        self.legend = LegendLine()
        self.curves: dict[str, pg.PlotDataItem] = {}      # run path → its curve
        self.best_points: dict[str, tuple[float, float]] = {}
        self.best = pg.ScatterPlotItem(size=15, symbol="star", pen=pg.mkPen("w", width=1))
        self.best.setZValue(10)
        self.addItem(self.best)
        self.zero_shot = pg.ScatterPlotItem(size=14, symbol="d", brush=pg.mkBrush(ZERO_SHOT_COLOUR),
                                            pen=pg.mkPen("w", width=1.5))
        self.zero_shot.setZValue(11)
        self.addItem(self.zero_shot)
        self.zero_label = pg.TextItem("zero-shot", color=ZERO_SHOT_COLOUR, anchor=BELOW)
        self.zero_label.hide()  # an empty TextItem in an empty view repaints itself endlessly
        self.addItem(self.zero_label)

    def set_rows(self, rows: list[dict]) -> None:
        for item in self.curves.values():
            self.removeItem(item)
        self.legend.clear()
        self.curves, self.best_points = {}, {}
        xs, ys, stars, brushes = [], [], [], []
        zero, rises = None, 0.0
        for i, row in enumerate(rows):
            points = [p for p in (row.get("curve") or []) if p["id"] is not None and p["ood"] is not None]
            if not points:
                continue
            colour = run_colour(i)
            x, y = [100 * p["id"] for p in points], [100 * p["ood"] for p in points]
            self.curves[row["run"]] = self.plot(x, y, pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=5,
                                                symbolBrush=colour, symbolPen=None)
            self.legend.add(row["name"] if row["method"] in row["name"] else f"{row['name']} ({row['method']})",
                            colour)
            best = next(p for p in points if p["alpha"] == row["best_alpha"]) if row.get("best_alpha") is not None \
                else points[-1]
            self.best_points[row["run"]] = (100 * best["id"], 100 * best["ood"])
            stars.append(self.best_points[row["run"]])
            brushes.append(pg.mkBrush(colour))
            zero = zero or (x[0], y[0])
            rises += (y[1] - y[0]) if len(y) > 1 else 0.0
            xs += x
            ys += y
        self.best.setData(pos=stars, brush=brushes)
        if zero is None:  # nothing to draw: no range kept from another project
            self.zero_shot.setData([], [])
            self.zero_label.hide()
            self.setXRange(0, 100, padding=0.03)
            self.setYRange(0, 100, padding=0.03)
            return
        self.zero_shot.setData([zero[0]], [zero[1]])
        self.zero_label.setAnchor(BELOW if rises >= 0 else ABOVE)  # on the side the curves leave free
        self.zero_label.setPos(*zero)
        self.zero_label.show()
        self.legend.add("best α on ID validation", INK, "star")
        self.legend.add("zero-shot", ZERO_SHOT_COLOUR, "diamond")
        self.setXRange(*_pad(min(xs), max(xs), 0.08), padding=0)
        self.setYRange(*_pad(min(ys), max(ys), 0.12), padding=0)

    def highlight(self, run: str | None) -> None:
        """Draw one run's curve thicker (the table's selected row)."""
        for path, item in self.curves.items():
            pen = item.opts["pen"]
            colour = pen.color() if hasattr(pen, "color") else pg.mkPen(pen).color()
            item.setPen(pg.mkPen(colour, width=4 if path == run else 2, style=Qt.SolidLine))


class ComparePlotBox(QWidget):
    """The plot (`plot`) under its legend: above it, the legend covers no curve."""

    def __init__(self):
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.plot = ComparePlot()
        layout.addWidget(self.plot.legend)
        layout.addWidget(self.plot, 1)

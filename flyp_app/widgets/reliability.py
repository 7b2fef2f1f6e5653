"""The Blend page's "How far to trust its confidence": per evaluation set, the accuracy of the
images at each confidence (the reliability diagram, core's `core.trust.calibration`) against the
diagonal of a perfectly honest model; beside it, for each minimum confidence, the share of the
images kept above it and their accuracy (what Classify a folder's `_uncertain` threshold keeps,
on the confidence predictions show); and in words how far off the confidence is on each set.

The temperature is fitted on the ID validation images only; the different-conditions sets are
measured, never fitted on. This module imports pyqtgraph (the Blend page imports it with its plots).
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QTextBrowser, QVBoxLayout, QWidget

from flyp_app.theme import ID_COLOUR, ood_colour, pyqtgraph
from flyp_app.widgets.blend_plots import _quiet
from flyp_app.widgets.legend import LegendLine

pg = pyqtgraph()
SORT_DEFAULT = 0.5  # Classify a folder's starting minimum confidence (`flyp predict --min-confidence`)


def shown_coverage(report: dict, s: dict) -> list[dict]:
    """A set's coverage rows of the confidence predictions at the report's α give: calibrated where
    a temperature applies at that α (exported there, or the α curve's), else the raw softmax; either
    less sure of unusual images where the run has a novelty score (`core.trust.lowering`)."""
    key = "coverage" if report.get("calibrated_predictions") else "coverage_uncalibrated"
    return s.get(f"{key}_with_novelty") or s.get(key, [])


def set_words(name: str) -> str:
    return "validation" if name == "id" else f"“{name}”"


def calibration_words(report: dict, uncertain_below: float = SORT_DEFAULT) -> str:
    """The calibration report in words: per set, how far its confidence is from its accuracy, for
    each different-conditions set how much less it can be trusted than on validation, and what
    sorting keeps at `uncertain_below` where the curve was measured there (every 5%)."""
    sets = report["sets"]
    lines = []
    base = sets.get("id", {}).get("calibration_error_calibrated")
    for name, s in sets.items():
        error = s["calibration_error_calibrated"]
        line = (f"<b>{set_words(name).capitalize() if name == 'id' else set_words(name)}</b>: right on "
                f"{s['accuracy']:.0%} of {s['n']} images, {s['mean_confidence']:.0%} sure on average; the confidence "
                f"is off by {100 * error:.0f} points on average ({100 * s['calibration_error']:.0f} before calibration)")
        if name != "id" and base is not None:
            more = 100 * (error - base)
            line += (f" — {more:.0f} points more than on validation: trust its confidence less on these images"
                     if more >= 1 else " — as honest as on validation")
        if (lowered := s.get("calibration_error_with_novelty")) is not None:
            sure = s.get("mean_confidence_with_novelty")
            line += (f"; predictions are less sure of unusual images (by the “none of these” score): then off by "
                     f"{100 * lowered:.0f}" + ("" if sure is None else f", {sure:.0%} sure on average"))
        kept = next((r for r in shown_coverage(report, s) if abs(r["threshold"] - uncertain_below) < 1e-6), None)
        if kept is not None and kept["accuracy"] is not None:
            line += (f"; at least {uncertain_below:.0%} sure: {kept['coverage']:.0%} of the images, "
                     f"{kept['accuracy']:.0%} of them right")
        lines.append(line + ".")
    at = f"at α = {report['alpha']:.2f}"
    if report.get("temperature_fit") == "no validation errors":
        lines.append(f"Not calibrated {at}: every validation image is right, so there is nothing to fit a "
                     "temperature on and the confidence is left as the model gives it.")
    else:
        lines.append(f"Calibrated with one temperature ({report['temperature']:.2f}) fitted on the validation images "
                     f"only, {at}. " + ("Predictions at this α use it (between the α curve's points, 0.1 apart, "
                                        "a temperature interpolated between theirs)."
                                        if report.get("calibrated_predictions") else
                                        "Predictions at this α give the confidence before it until the α curve "
                                        "is computed (it fits a temperature at each α)."))
    return "<br>".join(lines)


class ReliabilityView(QWidget):
    """The reliability plot (confidence → accuracy, %) and the words under it. On the coverage plot
    a draggable "uncertain < N%" line: `uncertain_moved(value, 0–1)` when the user lets it go."""

    def __init__(self, uncertain_below: float = SORT_DEFAULT,
                 uncertain_moved: Callable[[float], None] = lambda _: None):
        super().__init__()
        self.uncertain_below, self._uncertain_moved = uncertain_below, uncertain_moved
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plot = pg.PlotWidget(background="w")
        _quiet(self.plot)
        self.plot.setMinimumHeight(110)
        self.plot.setLabel("bottom", "confidence (%)")
        # Short left labels: the plots are about 70 px tall in the tab, and a longer one is cut
        self.plot.setLabel("left", "right (%)")
        self.plot.setXRange(0, 100)
        self.plot.setYRange(0, 100)
        self.plot.setAccessibleName("Confidence against accuracy per set")
        self.plot.setToolTip("Each point: the images given about that confidence, and how many of them were "
                             "right. On the dashed diagonal the confidence means exactly what it says.")
        self.coverage = pg.PlotWidget(background="w")
        _quiet(self.coverage)
        self.coverage.setMinimumHeight(110)
        self.coverage.setLabel("bottom", "minimum confidence (%)")
        self.coverage.setLabel("left", "%")  # of the images kept (dashed) and right (solid): the legend says
        self.coverage.setXRange(0, 100)
        self.coverage.setYRange(0, 100)
        self.coverage.setAccessibleName("Images kept above each confidence, and their accuracy, per set")
        self.coverage.setToolTip("For each minimum confidence (Classify a folder puts the images below it in "
                                 "“_uncertain”): solid, the accuracy of the images kept; dashed, the share kept.")
        self.uncertain = pg.InfiniteLine(100 * uncertain_below, angle=90, movable=True, bounds=(0, 100),
                                         pen=pg.mkPen("#c0392b", width=2), hoverPen=pg.mkPen("#c0392b", width=4),
                                         label="uncertain < {value:.0f}%",
                                         labelOpts={"position": 0.92, "color": "#c0392b", "movable": True})
        self.uncertain.sigPositionChanged.connect(self._uncertain_words_side)
        self._uncertain_words_side()
        self.uncertain.setToolTip("Drag: images less sure than this go into “_uncertain” when Try sorts a folder")
        self.uncertain.sigPositionChangeFinished.connect(self._uncertain_dropped)
        self.coverage.addItem(self.uncertain)
        plots = QHBoxLayout()
        plots.addWidget(self.plot, 1)
        plots.addWidget(self.coverage, 1)
        layout.addLayout(plots, 3)
        # The legend heads the words below: inside the plots it would cover their curves, and a row
        # of its own does not fit the tab's height.
        self.legend = LegendLine()
        # Scrolls rather than overlap the plot when the tab is short (a label's height-for-width
        # is not honoured inside the tab).
        self.words = QTextBrowser()
        self.words.setAccessibleName("How far to trust the confidence, per set")
        self.words.setToolTip("The calibration error of each set, in words")
        self.words.setMinimumHeight(60)
        layout.addWidget(self.words, 2)
        self.curves: dict[str, object] = {}
        self.kept: dict[str, tuple] = {}  # set → (its accuracy curve, its share-kept curve) on the coverage plot
        self.report: dict | None = None

    def show_waiting(self, text: str) -> None:
        self.report = None
        self.plot.clear()
        self.coverage.clear()
        self.coverage.addItem(self.uncertain)
        self.curves, self.kept = {}, {}
        self.legend.clear()
        self.words.setText(text)

    def set_report(self, report: dict) -> None:
        """A report of `core.trust.fitting.measure_blend` (the blend at one α)."""
        self.report = report
        self.plot.clear()
        self.plot.plot([0, 100], [0, 100], pen=pg.mkPen("#999999", style=Qt.DashLine))
        self.legend.clear()
        self.coverage.clear()
        self.coverage.addItem(self.uncertain)
        self.curves, self.kept = {}, {}
        for i, (name, s) in enumerate(report["sets"].items()):
            bins = [b for b in s["reliability"] if b["n"]]
            colour = ID_COLOUR if name == "id" else ood_colour(i - 1)
            self.curves[name] = self.plot.plot([100 * b["confidence"] for b in bins], [100 * b["accuracy"] for b in bins],
                                               pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=6,
                                               symbolBrush=colour)
            self.legend.add(set_words(name).strip("“”"), colour)
            rows = [r for r in shown_coverage(report, s) if r["accuracy"] is not None]
            xs = [100 * r["threshold"] for r in rows]
            self.kept[name] = (
                self.coverage.plot(xs, [100 * r["accuracy"] for r in rows], pen=pg.mkPen(colour, width=2)),
                self.coverage.plot(xs, [100 * r["coverage"] for r in rows],
                                   pen=pg.mkPen(colour, width=1.5, style=Qt.DashLine)))
        self.legend.add("honest (left)", "#999999", "dashed")
        self.legend.add("right: accuracy of those kept", "#555555", "plain")
        self.legend.add("share kept", "#555555", "dashed")
        self.words.setText(self.legend.text() + "<br>" + calibration_words(report, self.uncertain_below))

    def show_uncertain(self, value: float) -> None:
        """Put the line at the project's minimum confidence `value` (0–1), and the words with it."""
        self.uncertain_below = value
        self.uncertain.blockSignals(True)
        self.uncertain.setValue(100 * value)
        self.uncertain.blockSignals(False)
        if self.report is not None:
            self.words.setText(self.legend.text() + "<br>" + calibration_words(self.report, value))

    def _uncertain_words_side(self) -> None:
        """The line's words on its wider side, so that the plot's edge never cuts them."""
        side = 0 if self.uncertain.value() < 50 else 1  # the words' left (0) or right (1) end at the line
        self.uncertain.label.anchors = [(side, 0), (side, 0)]
        self.uncertain.label.updatePosition()

    def _uncertain_dropped(self) -> None:
        value = round(self.uncertain.value()) / 100  # whole percents, as Try's box shows it
        self.show_uncertain(value)
        self._uncertain_moved(value)

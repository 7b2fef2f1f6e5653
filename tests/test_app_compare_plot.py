"""The Compare page's plot: the zero-shot point's words stay clear of the curves leaving it."""

from __future__ import annotations

import pytest


def _rows(rise: float) -> list[dict]:
    """Two runs' curves from the same zero-shot point (ID 57.5%, OOD 42%), rising or falling by `rise`."""
    rows = []
    for i, slope in enumerate((1.0, 0.6)):
        curve = [{"alpha": a / 10, "id": 0.575 + 0.017 * a, "ood": 0.42 + rise * slope * (a / 10) * (1 - a / 20)}
                 for a in range(11)]
        rows.append({"run": f"/runs/{i}", "name": f"run {i}", "method": "flyp", "curve": curve, "best_alpha": 0.9})
    return rows


@pytest.mark.parametrize("rise", [0.03, -0.1], ids=["curves rising", "curves falling"])
def test_the_zero_shot_words_cover_no_curve(qtbot, rise):
    from flyp_app.widgets.compare_plot import ComparePlot

    plot = ComparePlot()
    qtbot.addWidget(plot)
    plot.resize(1000, 520)
    plot.show()
    plot.set_rows(_rows(rise))
    qtbot.wait(50)
    words = plot.zero_label.mapRectToScene(plot.zero_label.boundingRect())
    box = plot.getViewBox()
    for curve in plot.curves.values():
        xs, ys = curve.getData()
        for x, y in zip(xs, ys):
            assert not words.contains(box.mapViewToScene(_pt(x, y))), (x, y, words)
        # and the segments between them: sampled along each one
        for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
            for t in (0.25, 0.5, 0.75):
                assert not words.contains(box.mapViewToScene(_pt(x0 + t * (x1 - x0), y0 + t * (y1 - y0))))


def _pt(x, y):
    from PySide6.QtCore import QPointF

    return QPointF(float(x), float(y))

"""The Data page's map (#27): one point per image coloured by class or by folder, computed off the
UI thread, a lasso's images left out (and Undo bringing them back), "Label these" reaching the
Label page. Tiny demo folders, the demo model."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QPolygonF


@pytest.fixture(scope="module")
def tiny_demo(tmp_path_factory):
    from core.demo.task import write_demo_data

    root = tmp_path_factory.mktemp("map-demo")
    write_demo_data(root, seed=0, train_per_class=5, val_per_class=2, ood_per_class=1)
    return root


@pytest.fixture
def mapped(qtbot, project_window, tiny_demo, tmp_path):
    """The window on a copy of the demo's folders, its map computed."""
    train = shutil.copytree(tiny_demo / "train", tmp_path / "train")
    val = shutil.copytree(tiny_demo / "val", tmp_path / "val")
    window = project_window
    window.state.set_folders(train=str(train), val=str(val))
    page = window.pages["data"]
    window.show_page("data")
    qtbot.waitUntil(lambda: window.state.datasets is not None, timeout=20000)
    page.see.setCurrentWidget(page.map)
    with qtbot.waitSignal(page.map.drawn, timeout=120000):
        page.map.button.click()
    return window, page.map, train


def _class_colours(view):
    return {p["label"]: c for p, c in zip(view.points, view.colours())}


def test_the_map_shows_each_image_once_coloured_by_class_and_by_folder(mapped):
    window, view, _ = mapped
    data = window.state.datasets
    paths = [p["path"] for p in view.points]
    assert sorted(paths) == sorted({str(s.path) for s in data.train + data.val})  # one point per image
    assert len(view.plot.scatter.data) == len(paths)
    by_class = view.colours()
    colours = _class_colours(view)
    assert len(set(colours.values())) == len(data.classes)  # a colour per class…
    assert all(c == colours[p["label"]] for p, c in zip(view.points, by_class))  # …the same for its images
    assert view.legend.text().count("span style='color") >= len(data.classes)
    view.colour.setCurrentIndex(view.colour.findData("folder"))
    by_folder = view.colours()
    assert by_folder != by_class
    assert {p["set"]: c for p, c in zip(view.points, by_folder)}.keys() == {"training", "validation"}
    assert len(set(by_folder)) == 2
    brushes = {spot.brush().color().name() for spot in view.plot.scatter.points()}
    assert brushes == set(by_folder)  # what is drawn follows the switch


def test_a_lasso_then_leave_out_changes_the_project_and_undo_restores_it(qtbot, mapped):
    window, view, _ = mapped
    state = window.state
    chosen = [p for p in view.points if p["set"] == "training"][:2]
    before = len(state.datasets.train)
    # A small lasso around each of the two points, the second added with Ctrl.
    for n, point in enumerate(chosen):
        x, y, r = point["x"], point["y"], 1e-3
        view.plot.select_polygon(QPolygonF([QPointF(x - r, y - r), QPointF(x + r, y - r), QPointF(x + r, y + r),
                                            QPointF(x - r, y + r)]), add=n > 0)
    assert sorted(view.selected_paths()) == sorted(p["path"] for p in chosen)
    assert view.actions.exclude_button.isEnabled() and view.label_button.isEnabled()
    view.actions.exclude_button.click()
    from core.data.folders import excluded_key

    assert {excluded_key(p["path"]) for p in chosen} <= set(state.project.excluded)
    assert view.selected_paths() == []  # acted on: no longer offered for another action…
    assert view.plot.selected == set()  # …nor drawn as selected
    qtbot.waitUntil(lambda: state.datasets is not None and len(state.datasets.train) == before - 2, timeout=20000)
    state.undo_stack.undo()
    assert not set(state.project.excluded)
    qtbot.waitUntil(lambda: state.datasets is not None and len(state.datasets.train) == before, timeout=20000)


def test_label_these_opens_the_selection_on_the_label_page(qtbot, mapped):
    window, view, train = mapped
    training = [p for p in view.points if p["set"] == "training"]
    validation = [p for p in view.points if p["set"] == "validation"]
    view.plot.selected = {view.points.index(training[0]), view.points.index(validation[0])}
    view.plot.selection_changed.emit()
    view.label_button.click()
    label = window.pages["label"]
    assert window.stack.currentWidget() is label
    assert list(label.items) == [training[0]["path"]]  # a validation image is not labelled into training
    assert label.from_project
    # Labelled there into another class, the image moves (a copy would leave it in two classes)…
    source = Path(training[0]["path"])
    other = next(c for c in window.state.datasets.classes if c != source.parent.name)
    before = sorted((train / other).iterdir())
    label.assign(other, [label.items[str(source)]])
    assert not source.exists() and len(list((train / other).iterdir())) == len(before) + 1
    assert not label.items
    assert window.state.review.status(str(source)).startswith("Moved to")  # as Move to class does: the map fades it
    window.state.undo_stack.undo()  # …and Undo puts it back, on disk and in the grid
    assert source.exists() and sorted((train / other).iterdir()) == before
    assert list(label.items) == [str(source)]


def test_the_map_is_computed_off_the_ui_thread(qtbot, project_window, tiny_demo, tmp_path, monkeypatch):
    from flyp_app import explore_tasks

    threads = []
    real = explore_tasks.project_map

    def spy(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(explore_tasks, "project_map", spy)
    window = project_window
    window.state.set_folders(train=str(shutil.copytree(tiny_demo / "train", tmp_path / "t")))
    qtbot.waitUntil(lambda: window.state.datasets is not None, timeout=20000)
    view = window.pages["data"].map
    with qtbot.waitSignal(view.drawn, timeout=120000):
        view.button.click()
        assert not view.button.isEnabled() and view.summary.text()  # the page answers at once
    assert threads and threads[0] is not threading.main_thread()
    assert len(view.points) == len(window.state.datasets.train) + len(window.state.datasets.val)


def test_hover_shows_the_thumbnail_and_the_label_check_outlines_its_suspicious_images(qtbot, mapped):
    window, view, train = mapped
    index = next(i for i, p in enumerate(view.points) if p["set"] == "validation")
    point = view.points[index]
    view.plot.hovered.emit(index)
    assert Path(point["path"]).name in view.about.text() and "validation" in view.about.text()
    assert view.actions.display(point["label"]) in view.about.text()
    qtbot.waitUntil(lambda: not view.thumb.pixmap().isNull(), timeout=20000)
    page = window.pages["data"]
    page.check.button.click()
    qtbot.waitUntil(lambda: page.check.report is not None, timeout=60000)
    suspicious = {s.path for s in page.check.report.suspicious}
    assert suspicious  # the zero-shot demo model doubts some labels of so few images
    assert {view.points[i]["path"] for i in view.plot._suspicious} == suspicious & {p["path"] for p in view.points}


def test_a_mouse_lasso_selects_the_points_inside_it(qtbot):
    """A left-button drag around four points of a 5×5 grid, as the mouse sends it."""
    from PySide6.QtCore import QEvent, QPoint, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    plot, points = grid_plot(qtbot)
    viewport = plot.viewport()
    corners = [at(plot, x, y) for x, y in ((0.5, 0.5), (2.5, 0.5), (2.5, 2.5), (0.5, 2.5))]

    def send(kind, pos, buttons):
        QApplication.sendEvent(viewport, QMouseEvent(kind, QPointF(pos), QPointF(viewport.mapToGlobal(pos)),
                                                     Qt.LeftButton, buttons, Qt.NoModifier))

    send(QEvent.MouseButtonPress, corners[0], Qt.LeftButton)
    for a, b in zip(corners, corners[1:] + corners[:1]):
        for t in range(1, 6):
            send(QEvent.MouseMove, QPoint(int(a.x() + (b.x() - a.x()) * t / 5), int(a.y() + (b.y() - a.y()) * t / 5)),
                 Qt.LeftButton)
            qtbot.wait(20)  # pyqtgraph drops mouse moves closer together than a screen refresh
    with qtbot.waitSignal(plot.selection_changed):
        send(QEvent.MouseButtonRelease, corners[0], Qt.NoButton)
    assert sorted((points[i]["x"], points[i]["y"]) for i in plot.selected) == [(1, 1), (1, 2), (2, 1), (2, 2)]


def grid_plot(qtbot):
    """A map plot of a 5×5 grid of points, shown 400×300."""
    from flyp_app.widgets.map_plot import MapPlot

    plot = MapPlot()
    qtbot.addWidget(plot)
    plot.resize(400, 300)
    plot.show()
    points = [{"x": float(x), "y": float(y), "set": "training", "known": True} for x in range(5) for y in range(5)]
    plot.show_points(points, ["#2f6fde"] * len(points))
    qtbot.wait(20)
    return plot, points


def at(plot, x, y):
    """Where the map's point (x, y) is on the plot's viewport."""
    return plot.mapFromScene(plot.box.mapViewToScene(QPointF(x, y)))


def square(x0, y0, x1, y1):
    return QPolygonF([QPointF(x0, y0), QPointF(x1, y0), QPointF(x1, y1), QPointF(x0, y1)])


def test_a_click_beside_the_points_or_escape_empties_the_selection(qtbot):
    from PySide6.QtCore import Qt

    plot, points = grid_plot(qtbot)
    clicked = []
    plot.clicked.connect(clicked.append)
    plot.select_polygon(square(0.5, 0.5, 2.5, 2.5))
    assert len(plot.selected) == 4
    qtbot.mouseClick(plot.viewport(), Qt.LeftButton, Qt.ControlModifier, at(plot, 3.5, 3.5))
    assert len(plot.selected) == 4  # Ctrl (or Shift) beside the points keeps the selection, as for the lasso
    with qtbot.waitSignal(plot.selection_changed):
        qtbot.mouseClick(plot.viewport(), Qt.LeftButton, Qt.NoModifier, at(plot, 3.5, 3.5))
    assert plot.selected == set() and clicked == []
    plot.select_polygon(square(0.5, 0.5, 2.5, 2.5))
    qtbot.mouseClick(plot.viewport(), Qt.LeftButton, Qt.NoModifier, at(plot, 4, 0))
    assert clicked == [points.index({"x": 4.0, "y": 0.0, "set": "training", "known": True})]  # a point: opened
    plot.setFocus()
    with qtbot.waitSignal(plot.selection_changed):
        qtbot.keyClick(plot, Qt.Key_Escape)
    assert plot.selected == set()
    assert all(spot.pen().widthF() < 2 for spot in plot.scatter.points())  # drawn as no longer selected


def test_no_point_shows_its_image_while_a_lasso_is_drawn(qtbot):
    from PySide6.QtCore import QEvent, QPoint, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    plot, points = grid_plot(qtbot)
    hovered = []
    plot.hovered.connect(hovered.append)
    viewport = plot.viewport()

    def send(kind, pos, buttons):
        QApplication.sendEvent(viewport, QMouseEvent(kind, QPointF(pos), QPointF(viewport.mapToGlobal(pos)),
                                                     Qt.LeftButton if kind != QEvent.MouseMove else Qt.NoButton,
                                                     buttons, Qt.NoModifier))

    start, end = at(plot, 0.5, 1), at(plot, 3.5, 1)  # a drag along a row of points
    send(QEvent.MouseButtonPress, start, Qt.LeftButton)
    for t in range(1, 21):
        send(QEvent.MouseMove, QPoint(int(start.x() + (end.x() - start.x()) * t / 20), start.y()), Qt.LeftButton)
        qtbot.wait(20)  # pyqtgraph drops mouse moves closer together than a screen refresh
    assert plot.box.drawing()
    assert [i for i in hovered if i >= 0] == []
    send(QEvent.MouseButtonRelease, end, Qt.NoButton)
    qtbot.wait(20)
    send(QEvent.MouseMove, at(plot, 2, 3), Qt.NoButton)  # the button up: hovering shows images again
    qtbot.waitUntil(lambda: hovered and hovered[-1] == points.index({"x": 2.0, "y": 3.0, "set": "training",
                                                                       "known": True}), timeout=2000)


def test_stop_ends_the_computing_and_leaves_no_map(qtbot, project_window, tiny_demo, tmp_path, monkeypatch):
    from core.errors import Cancelled
    from flyp_app import explore_tasks

    started = threading.Event()

    def slow(*args, control=None, **kwargs):  # a map that takes until it is stopped
        started.set()
        while not control.cancelled():
            threading.Event().wait(0.01)
        raise Cancelled()

    monkeypatch.setattr(explore_tasks, "project_map", slow)
    window = project_window
    window.state.set_folders(train=str(shutil.copytree(tiny_demo / "train", tmp_path / "t")))
    qtbot.waitUntil(lambda: window.state.datasets is not None, timeout=20000)
    view = window.pages["data"].map
    view.button.click()
    qtbot.waitUntil(started.is_set, timeout=10000)
    assert not view.stop_button.isHidden()
    view.stop_button.click()
    qtbot.waitUntil(lambda: view.button.isEnabled() and view.stop_button.isHidden(), timeout=10000)
    assert not view.points

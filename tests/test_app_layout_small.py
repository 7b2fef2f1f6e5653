"""Layouts at 1024×700 (issue #31 item 12): what the user must read is on screen, not scrolled away
or cut."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QApplication, QScrollArea

from test_app_auto_advice import use_folders

SMALL = (1024, 700)


@pytest.fixture(autouse=True)
def app_style():
    """The app's palette and style sheet, as `flyp_app.__main__.create_app` gives them: its padding and
    fonts make widgets wider than Qt's defaults (the Blend page fitted unstyled, not in the app)."""
    from flyp_app import theme

    app = QApplication.instance()
    saved = app.palette(), app.styleSheet()
    theme.apply(app)
    yield
    app.setStyleSheet(saved[1])
    app.setPalette(saved[0])


def on_screen(widget, window) -> bool:
    """Whether all of `widget` lies inside the window and inside every scroll area's view around it."""
    rect = QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())
    if not widget.isVisible() or not window.rect().contains(rect):
        return False
    parent = widget.parentWidget()
    while parent is not None and parent is not window:
        if isinstance(parent, QScrollArea):
            view = parent.viewport()
            if not QRect(view.mapTo(window, QPoint(0, 0)), view.size()).contains(rect):
                return False
        parent = parent.parentWidget()
    return True


def test_the_learning_rate_warning_is_seen_without_scrolling_at_1024_by_700(qtbot, project_window, colour_data):
    window = project_window
    window.resize(*SMALL)
    page = window.show_page("train")
    use_folders(qtbot, window, colour_data)
    window.state.set_settings(model="demo", auto=False, lr=1.0, epochs=1, batch_size=8, workers=0)
    page.start_button.click()
    qtbot.waitUntil(lambda: page.settings_column.bounds_warning.isVisible())
    assert not page.training() and page.settings_column.bounds_warning.text().startswith("Learning rate 1 is far outside")
    assert on_screen(page.settings_column.bounds_warning, window)
    assert page.settings_column.bounds_warning.height() >= page.settings_column.bounds_warning.heightForWidth(page.settings_column.bounds_warning.width())  # not cut


def test_the_label_page_shows_grid_larger_view_and_accuracy_at_1024_by_700(qtbot, project_window, colour_data):
    window = project_window
    window.resize(*SMALL)
    use_folders(qtbot, window, colour_data, ood=False)
    page = window.show_page("label")
    page.open_folder(str(colour_data["val"]))
    accuracy = page.suggestions.accuracy  # shown once the suggestions have learned from the training images
    qtbot.waitUntil(lambda: bool(page.items) and all(i.probs for i in page.items.values())
                    and "labelled images" in accuracy.text(), timeout=120000)
    assert (window.width(), window.height()) == SMALL  # nothing on the page widened the window
    for widget in (page.grid, page.preview, page.suggestions.accuracy, page.bar.buttons[-1], page.name_edit):
        assert on_screen(widget, window), widget
    assert page.preview.width() >= 220 and page.grid.width() >= 300
    assert accuracy.height() >= accuracy.heightForWidth(accuracy.width())
    page.stop_workers()


def test_confusion_matrix_headings_are_whole_where_there_is_room(qtbot):
    from flyp_app.widgets.confusion import ConfusionMatrix

    matrix = ConfusionMatrix()
    qtbot.addWidget(matrix)
    classes = ["elephant", "giraffe", "zebra", "hippopotamus"]
    matrix.resize(700, 300)
    matrix.show()
    matrix.set_matrix([[5, 1, 0, 0], [0, 6, 0, 0], [1, 0, 4, 1], [0, 0, 0, 7]], classes)
    headings = [matrix.table.horizontalHeaderItem(c).text() for c in range(4)]
    assert headings == classes  # not "ele", "gir", …
    matrix.resize(260, 300)  # narrow: cut with …, never below three letters, the whole name in the tooltip
    qtbot.waitUntil(lambda: matrix.table.horizontalHeaderItem(3).text() != "hippopotamus")
    cut = matrix.table.horizontalHeaderItem(3)
    assert cut.text().startswith("hip") and cut.toolTip() == "predicted: hippopotamus"
    assert cut.text() == "hip" or cut.text().endswith("…")


def test_compare_legend_sits_above_the_plot_not_over_its_curves(qtbot, project_window, flyp_run, tmp_path):
    import shutil

    window = project_window
    window.resize(*SMALL)
    window.state.add_run(str(shutil.copytree(flyp_run, tmp_path / "runs" / "flyp")))
    compare = window.show_page("compare")
    qtbot.waitUntil(lambda: compare._worker is None and bool(compare.rows) and all(compare.rows), timeout=120000)
    plot, legend = compare.plot, compare.plot.legend
    assert legend.isVisible() and "zero\u2011shot" in legend.text() and "flyp" in legend.text()  # unbroken
    legend_box = QRect(legend.mapTo(window, QPoint(0, 0)), legend.size())
    assert not legend_box.intersects(QRect(plot.mapTo(window, QPoint(0, 0)), plot.size()))
    assert plot.plotItem.legend is None  # nothing floats inside the view


def test_a_run_name_is_shown_whole_in_the_train_page_list_at_1024_by_700(qtbot, project_window, flyp_run, tmp_path):
    import shutil

    window = project_window
    window.resize(*SMALL)
    name = "2026-12-07-flyp-setup"
    window.state.add_run(str(shutil.copytree(flyp_run, tmp_path / "runs" / name)))
    page = window.show_page("train")
    tree = page.history.tree
    qtbot.waitUntil(lambda: tree.topLevelItemCount() == 1 and tree.topLevelItem(0).text(0) == name)
    qtbot.wait(50)
    assert tree.sizeHintForColumn(0) <= tree.columnWidth(0)  # the name's whole width: not "20…up"
    assert tree.fontMetrics().horizontalAdvance(name) < tree.columnWidth(0)
    assert tree.topLevelItem(0).text(3).count("%") == 2  # the scores stay in view beside it
    assert tree.header().sectionViewportPosition(3) + tree.columnWidth(3) <= tree.viewport().width()


def test_every_page_fits_1024_by_700_beside_the_sidebar_with_a_run_shown(qtbot, project_window, colour_data,
                                                                          flyp_run, tmp_path):
    window = project_window
    window.resize(*SMALL)
    use_folders(qtbot, window, colour_data)
    window.state.add_run(str(shutil.copytree(flyp_run, tmp_path / "runs" / "2026-12-07 0935 flyp-frozen-text (2)")))
    window.pages["train"].params.toggle.setChecked(True)  # its advanced settings open
    window.pages["try"].progress.show()  # as while images are being classified
    room = QSize(SMALL[0] - window.nav.width(), SMALL[1] - window.menuBar().height() - window.statusBar().height())
    too_big = []
    for name, page in window.pages.items():
        window.show_page(name)
        qtbot.wait(20)
        hint = page.minimumSizeHint()
        if hint.width() > room.width() or hint.height() > room.height():
            too_big.append(f"{page.title} needs {hint.width()}×{hint.height()}")
    assert not too_big, f"beside the sidebar there is {room.width()}×{room.height()}: {too_big}"
    assert window.size() == QSize(*SMALL)
    blend = window.pages["blend"]
    qtbot.waitUntil(lambda: blend.curve is not None and not window.pages["compare"].busy(), timeout=60000)
    window.show_page("blend")
    qtbot.wait(20)
    assert window.size() == QSize(*SMALL)  # with the curve's plots and table filled


def test_the_blend_page_at_1024_by_700_cuts_no_tab_and_covers_no_words_of_its_plots(qtbot, project_window,
                                                                                      colour_data, flyp_run, tmp_path):
    window = project_window
    window.resize(*SMALL)
    use_folders(qtbot, window, colour_data)
    window.state.add_run(str(shutil.copytree(flyp_run, tmp_path / "runs" / "flyp")))
    page = window.show_page("blend")
    qtbot.waitUntil(lambda: page.curve is not None and page.robust_plot.marker_label.isVisible(), timeout=60000)
    qtbot.wait(50)
    bar = page.by_class.tabBar()
    for i in range(bar.count()):  # every tab in view, its words cut short with … where they must be
        assert bar.rect().contains(bar.tabRect(i)), bar.tabText(i)
    assert page.by_class.elideMode() == Qt.ElideRight
    for plot in (page.alpha_plot, page.robust_plot):  # the legend below the plot, not over its axis' words
        plot_box = QRect(plot.mapTo(window, QPoint(0, 0)), plot.size())
        legend_box = QRect(plot.legend.mapTo(window, QPoint(0, 0)), plot.legend.size())
        assert not plot_box.intersects(legend_box), type(plot).__name__
        axis = plot.getAxis("bottom")
        words = axis.mapRectToScene(axis.label.mapRectToParent(axis.label.boundingRect()))
        assert plot.sceneRect().contains(words), type(plot).__name__  # in the plot's picture: not cut
    view = page.robust_plot.getViewBox().sceneBoundingRect()
    for label in (*page.robust_plot.labels, page.robust_plot.marker_label):  # "finetuned", "α = 0.50" whole
        assert view.contains(label.sceneBoundingRect()), label.toPlainText()

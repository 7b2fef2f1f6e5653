"""The Label page as labelling tools work (issue #31 item 15): keys the user gives classes, kept in
the project and undoable; the image being labelled shown larger; suggestions that learn in the
background as labels arrive, with their accuracy on the labelled images shown."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QInputDialog

from test_app_label import page  # noqa: F401  (the Label page on three colour classes and six new images)


def test_a_key_given_to_a_class_files_its_images_is_saved_and_undone(qtbot, page, tmp_path, monkeypatch):
    from core.project import load_project

    train = tmp_path / "train"
    red = page.classes.index("red")
    assert page.bar.buttons[red].text() == "3  red"
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("R", True))  # the user types R
    page.bar.buttons[red].customContextMenuRequested.emit(QPoint(1, 1))  # right-click on "red"
    assert page.bar.buttons[red].text() == "r  red"
    page.state.save_now()
    assert load_project(page.state.project.path).label_keys == {"red": "r"}  # kept in the project

    page.grid.setFocus()
    first = page.grid.current_path()
    qtbot.keyClick(page.grid, Qt.Key_R)
    assert (train / "red" / first.rsplit("/", 1)[-1]).exists() and first not in page.items
    assert page.name_edit.text() == ""  # the key labelled; it did not start typing a class name
    qtbot.keyClick(page.grid, Qt.Key_3)  # 3 was red's: no class has it now
    assert "No class has the key 3" in page.status.text()

    page.undo()  # the labelling
    assert not (train / "red" / first.rsplit("/", 1)[-1]).exists() and first in page.items
    page.undo()  # the key
    assert page.bar.buttons[red].text() == "3  red" and page.state.project.label_keys == {}
    page.state.undo_stack.redo()
    assert page.bar.buttons[red].text() == "r  red"


def test_a_key_taken_from_another_class_and_a_wrong_key_refused(qtbot, page):
    blue, green = page.classes.index("blue"), page.classes.index("green")
    assert page.set_key("green", "1")  # blue's digit
    assert page.bar.buttons[green].text() == "1  green" and page.bar.buttons[blue].text() == "blue"
    assert not page.set_key("red", "rr") and "cannot be a key" in page.status.text()
    assert page.state.project.label_keys == {"green": "1"}


def test_the_image_being_labelled_is_shown_larger_with_its_likeliest_classes(qtbot, page):
    from flyp_app.widgets.label_grid import THUMB

    page.grid.select_row(0)
    current = page.grid.current_path()
    qtbot.waitUntil(lambda: page.preview.picture.pixmap() is not None
                    and not page.preview.picture.pixmap().isNull(), timeout=20000)
    assert page.preview.path == current and page.preview.name.text() == current.rsplit("/", 1)[-1]
    assert min(page.preview.picture.pixmap().width(), page.preview.picture.pixmap().height()) > 2 * THUMB
    best = page.items[current].suggestion(page.classes)
    assert page.preview.guesses.text().splitlines()[0].startswith(page.display(best[0]))
    qtbot.keyClick(page.grid, Qt.Key_Space)  # the next image: the view follows
    assert page.preview.path == page.grid.current_path() != current


def test_suggestions_learn_in_the_background_and_show_their_accuracy(qtbot, page, monkeypatch):
    from flyp_app.pages import label_page

    monkeypatch.setattr(label_page, "REFIT_EVERY", 4)
    assert "label a few images" in page.suggestions.accuracy.text()
    page.grid.setFocus()
    started = []
    monkeypatch.setattr(page, "update_suggestions", lambda real=page.update_suggestions: started.append(1) or real())
    for n in range(4):  # each image labelled with its own colour (the file's name says which)
        path = page.grid.current_path()
        colour = ["red", "green", "blue", "red", "green", "blue"][int(path.rsplit("_", 1)[-1].split(".")[0])]
        qtbot.keyClick(page.grid, getattr(Qt, f"Key_{page.classes.index(colour) + 1}"))
        assert len(started) == (n == 3)  # the fourth label sets them learning, nobody asked
        assert f"of the last {n + 1} you labelled" in page.suggestions.accuracy.text()
    qtbot.waitUntil(lambda: "of 4 labelled images" in page.suggestions.accuracy.text(), timeout=120000)
    text = page.suggestions.accuracy.text()
    assert "Right for " in text and "% of 4 labelled images (each judged without it)" in text


def test_a_project_file_with_a_key_that_cannot_be_one_is_refused_in_one_line(tmp_path):
    import json

    import pytest

    from core.errors import FlypError
    from core.project import load_project

    path = tmp_path / "Bad.flyp.json"
    path.write_text(json.dumps({"format": 1, "name": "Bad", "label_keys": {"red": "rr"}}))
    with pytest.raises(FlypError, match="label_keys"):
        load_project(path)

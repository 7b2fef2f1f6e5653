"""Seeing the data on the Data page: the search by words or by a dropped image (a gallery, most
similar first, with the review actions and their undo), and the label check's bad images and
shortcuts in the user's words. Small demo folders (20 photos per class), the demo model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageEnhance, ImageFilter
from PySide6.QtCore import Qt

from flyp_app.widgets.review_list import PATHS
from test_app_projects import drop
from test_app_review import fits_1024_by_700

SKETCHES = 6  # sketches among the star class's 20 photos: a shortcut the check must name


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from core.demo.task import write_demo_data

    root = tmp_path_factory.mktemp("see-demo")
    write_demo_data(root, seed=0, train_per_class=20, val_per_class=2, ood_per_class=SKETCHES)
    return root


@pytest.fixture
def page(qtbot, project_window, demo, tmp_path):
    """The Data page of a project on a copy of the demo's training folder, with the star class's
    sketches, a darkened copy of a circle and a blurred copy of a ring planted; scanned."""
    train = shutil.copytree(demo / "train", tmp_path / "train")
    for path in sorted((demo / "ood-sketch" / "star").glob("*.png")):
        shutil.copy(path, train / "star" / f"sketch-{path.name}")
    ImageEnhance.Brightness(Image.open(train / "circle" / "0003.png").convert("RGB")).enhance(0.2) \
        .save(train / "circle" / "dark.png")
    Image.open(train / "ring" / "0004.png").convert("RGB").filter(ImageFilter.GaussianBlur(2.0)) \
        .save(train / "ring" / "blurred.png")
    window = project_window
    window.state.set_folders(train=str(train))
    window.show_page("data")
    data = window.pages["data"]
    qtbot.waitUntil(lambda: window.state.datasets is not None, timeout=20000)
    data.train = train
    return data


def searched(qtbot, search, start):
    start()
    qtbot.waitUntil(lambda: search.gallery.count() > 0 and search._worker is None, timeout=60000)
    return [search.gallery.item(row).data(Qt.UserRole) for row in range(search.gallery.count())]


def test_a_typed_phrase_fills_the_gallery_most_similar_first(qtbot, page):
    search = page.search
    page.see.setCurrentWidget(search)
    assert not search.gallery.isVisible()  # only the field's row until there is something to show
    qtbot.keyClicks(search.field, "star")
    shown = searched(qtbot, search, lambda: qtbot.keyClick(search.field, Qt.Key_Return))
    assert search.gallery.isVisible()
    similarities = [s for _, s in search.matches]
    assert similarities == sorted(similarities, reverse=True)
    assert shown == [p for p, _ in search.matches]  # the gallery in the same order
    assert sum(Path(p).parent.name == "star" for p in shown[:10]) >= 6, shown[:10]
    caption = search.gallery.item(0).text()
    assert caption.startswith(Path(shown[0]).parent.name) and f"{similarities[0]:.2f}" in caption
    qtbot.waitUntil(lambda: not search.gallery.item(0).icon().isNull(), timeout=20000)  # thumbnails follow
    fits_1024_by_700(qtbot, page.window())


def test_dropping_an_image_searches_by_example(qtbot, page):
    search = page.search
    page.see.setCurrentWidget(search)
    example = page.train / "triangle" / "0002.png"
    shown = searched(qtbot, search, lambda: drop(page.window(), search.field, [example]))
    assert shown[0] == str(example) and search.matches[0][1] == pytest.approx(1.0, abs=1e-3)
    assert "0002.png" in search.summary.text()


def test_choose_image_searches_by_the_example_chosen(qtbot, page, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    search = page.search
    page.see.setCurrentWidget(search)
    example = page.train / "ring" / "0003.png"
    opened = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda parent, title, start, filters: opened.append((title, filters)) or ("", ""))
    search.choose_button.click()  # cancelled: nothing searched
    assert opened and "*.png" in opened[0][1] and search._worker is None and search.gallery.count() == 0
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a: (str(example), ""))
    shown = searched(qtbot, search, search.choose_button.click)
    assert shown[0] == str(example) and search.field.text() == str(example)
    assert "0003.png" in search.summary.text()


def test_an_action_on_a_search_result_changes_the_project_and_undo_restores_it(qtbot, page):
    window = page.window()
    search = page.search
    page.see.setCurrentWidget(search)
    shown = searched(qtbot, search, lambda: search.search_text("a sketch of a star."))
    first = Path(shown[0])
    assert first.parent.name == "star"
    search.gallery.item(0).setSelected(True)
    assert search.actions.move_button.isEnabled()
    search.actions.move_to("circle")
    assert not first.exists() and (page.train / "circle" / first.name).is_file()
    assert search.gallery.item(0).text().endswith("Moved to circle")
    assert not search.actions.move_button.isEnabled()  # done: not acted on twice
    window.state.undo_stack.undo()
    assert first.is_file() and not (page.train / "circle" / first.name).exists()
    assert "Moved" not in search.gallery.item(0).text()
    search.gallery.clearSelection()
    search.gallery.item(1).setSelected(True)
    search.actions.exclude()
    assert window.state.project.excluded == [shown[1]]
    assert search.gallery.item(1).text().endswith("Left out of training")
    window.state.undo_stack.undo()
    assert window.state.project.excluded == []


def test_the_search_runs_again_after_a_move_and_its_undo(qtbot, page):
    """Moved images show where they are now (their new class, a file that opens), not greyed at a
    path that is gone; an example image that was moved is searched for at its new place."""
    window, search = page.window(), page.search
    page.see.setCurrentWidget(search)
    shown = searched(qtbot, search, lambda: search.search_text("a sketch of a star."))
    first = Path(shown[0])
    search.gallery.item(0).setSelected(True)
    search.actions.move_to("circle")
    now = str(page.train / "circle" / first.name)
    qtbot.waitUntil(lambda: now in search.gallery.paths() and str(first) not in search.gallery.paths(), timeout=60000)
    row = search.gallery.paths().index(now)
    assert search.gallery.item(row).text().startswith("circle · ")
    window.state.undo_stack.undo()
    qtbot.waitUntil(lambda: str(first) in search.gallery.paths() and now not in search.gallery.paths(), timeout=60000)
    example = Path(searched(qtbot, search, lambda: search.search_example(str(first)))[0])
    assert example == first
    search.gallery.clearSelection()
    search.gallery.item(0).setSelected(True)
    search.actions.move_to("ring")  # the example itself
    qtbot.waitUntil(lambda: search.gallery.paths()[:1] == [str(page.train / "ring" / first.name)], timeout=60000)
    assert search.field.text() == str(page.train / "ring" / first.name)
    window.state.undo_stack.undo()
    qtbot.waitUntil(lambda: search.gallery.paths()[:1] == [str(first)], timeout=60000)


def groups(review) -> dict:
    tree = review.tree
    return {tree.topLevelItem(i).text(0).split(" (")[0]: tree.topLevelItem(i) for i in range(tree.topLevelItemCount())}


def test_the_check_lists_planted_bad_images_and_the_sketch_shortcut_in_the_users_words(qtbot, page):
    window = page.window()
    page.check.concepts.setText("a sketch of a {} on paper, a petri dish")  # the user's own, beside the default
    page.check.button.click()
    qtbot.waitUntil(lambda: page.check.report is not None, timeout=120000)
    review = page.check.review
    found = groups(review)
    bad = found["Bad images"]
    issues = {bad.child(i).text(0).split(" (")[0]: bad.child(i) for i in range(bad.childCount())}
    dark, blurred = str(page.train / "circle" / "dark.png"), str(page.train / "ring" / "blurred.png")
    assert dark in issues["Too dark"].data(0, PATHS) and blurred in issues["Blurred"].data(0, PATHS)
    assert "exposure" in issues["Too dark"].text(0)  # with its advice
    row = next(r for r in review._images[dark] if r.parent() is issues["Too dark"])
    assert row.text(0) == "dark.png" and row.text(3).startswith("brightness ")
    shortcuts = found["Shortcuts"]
    assert shortcuts.childCount() >= 1
    first = shortcuts.child(0)
    assert first.text(0).split(":")[0] in ("‘sketch’ in star", "‘drawing’ in star"), first.text(0)
    assert "of its images" in first.text(0) and first.child(0).text(0).startswith("→ ")
    concepts = [shortcuts.child(i).text(0).split("’")[0].lstrip("‘") for i in range(shortcuts.childCount())]
    assert "a sketch of a star on paper" in concepts and "a petri dish" not in concepts, concepts
    carried = first.data(0, PATHS)
    assert sum("sketch-" in Path(p).name for p in carried) >= SKETCHES - 1
    review.tree.clearSelection()
    first.setSelected(True)  # the shortcut's row: all of its images
    review.actions.exclude()
    assert set(window.state.project.excluded) == set(carried)
    assert review._images[carried[0]][0].text(4) == "Left out of training"
    window.state.undo_stack.undo()
    assert window.state.project.excluded == []


def test_the_users_own_shortcut_concepts_are_saved_with_the_project_and_undone(qtbot, page):
    import json

    state = page.window().state
    field = page.check.concepts
    field.setText("a petri dish,  a sketch of a {} on paper")
    field.editingFinished.emit()
    assert state.project.shortcut_concepts == ["a petri dish", "a sketch of a {} on paper"]
    state.save_now()
    assert json.loads(state.project.path.read_text())["shortcut_concepts"] == state.project.shortcut_concepts
    state.undo_stack.undo()
    assert state.project.shortcut_concepts == [] and field.text() == ""
    state.undo_stack.redo()
    assert field.text() == "a petri dish, a sketch of a {} on paper"
    field.setText("a {x} on paper")
    page.check.button.click()  # a bad one is named in one line, not saved, and nothing is checked
    assert "{x}" in page.status.text() and "\n" not in page.status.text() and page.status.isVisible()
    assert state.project.shortcut_concepts == ["a petri dish", "a sketch of a {} on paper"]
    assert page.check._worker is None


@pytest.mark.parametrize("size", [(1366, 768), (1024, 700)])
@pytest.mark.parametrize("tab", ["search", "check"])
def test_the_search_and_concept_fields_show_their_whole_placeholder(qtbot, page, size, tab):
    from PySide6.QtWidgets import QStyle, QStyleOptionFrame

    field = page.search.field if tab == "search" else page.check.concepts
    page.see.setCurrentWidget(getattr(page, tab))
    page.window().resize(*size)
    qtbot.waitUntil(lambda: (page.window().width(), page.window().height()) == size)
    qtbot.wait(50)
    option = QStyleOptionFrame()
    field.initStyleOption(option)
    text_room = field.style().subElementRect(QStyle.SE_LineEditContents, option, field).width()
    needed = field.fontMetrics().horizontalAdvance(field.placeholderText())
    assert text_room >= needed, (text_room, needed)

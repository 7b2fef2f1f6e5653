"""Reviewing labels in the app: the Data page's label check and its actions (move, leave out, keep)
with their undo; the Blend page's confusion matrix, whose cells filter the gallery, and its CSV.
Tiny demo folders, the demo model."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt

from flyp_app.widgets.review_list import PATHS


@pytest.fixture(scope="module")
def tiny_demo(tmp_path_factory):
    """Demo folders, 6 training images per class: quick to check."""
    from core.demo.task import write_demo_data

    root = tmp_path_factory.mktemp("review-demo")
    write_demo_data(root, seed=0, train_per_class=6, val_per_class=2, ood_per_class=1)
    return root


@pytest.fixture
def checked(qtbot, project_window, tiny_demo, tmp_path):
    """The window with a copy of the demo's training folder (one image filed in the wrong class, one
    resized copy planted), checked."""
    train = shutil.copytree(tiny_demo / "train", tmp_path / "train")
    wrong = train / "square" / "from-circle.png"
    shutil.move(train / "circle" / "0000.png", wrong)
    original = train / "star" / "0001.png"
    copy = train / "star" / "copy.png"
    Image.open(original).resize((70, 70)).save(copy)
    window = project_window
    window.state.set_folders(train=str(train))
    page = window.pages["data"]
    window.show_page("data")
    qtbot.waitUntil(lambda: window.state.datasets is not None, timeout=20000)
    page.check.button.click()
    qtbot.waitUntil(lambda: page.check.report is not None, timeout=60000)
    return window, page, train, wrong, (original, copy)


def files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def fits_1024_by_700(qtbot, window):
    """The window needs no more than 1024×700 and takes that size. Asked again until the layouts
    settle: a gallery still filling (its thumbnails arrive from a worker) may hold a larger minimum
    for a moment on a busy machine; a page that does not fit never gets there."""
    def shrunk() -> bool:
        window.resize(1024, 700)
        return (window.width(), window.height()) == (1024, 700)
    qtbot.waitUntil(shrunk, timeout=10000)
    needed = window.minimumSizeHint()
    assert needed.width() <= 1024 and needed.height() <= 700, needed


def select(review, paths):
    review.tree.clearSelection()
    for path in paths:
        for row in review._images[str(path)]:
            row.setSelected(True)


def test_the_check_lists_the_wrong_label_and_the_copy_without_changing_a_file(qtbot, checked):
    window, page, train, wrong, (original, copy) = checked
    report = page.check.report
    assert str(wrong) in {s.path for s in report.suspicious}
    assert any({d.a, d.b} == {str(original), str(copy)} for d in report.near_duplicates)
    review = page.check.review
    assert review.isVisible() and str(wrong) in review.image_paths()
    row = review._images[str(wrong)][0]
    assert row.text(0) == "from-circle.png" and row.text(1) == "square" and row.text(3)
    qtbot.waitUntil(lambda: not row.icon(0).isNull(), timeout=20000)  # thumbnails follow
    fits_1024_by_700(qtbot, window)
    assert not (train.parent / "Mine-labels.csv").exists()  # nothing moved, nothing logged


def test_a_class_warning_opens_the_page_where_it_is_fixed(qtbot, checked):
    from PySide6.QtWidgets import QTreeWidgetItemIterator

    window, page, *_ = checked
    assert any(w.kind == "few-images" for w in page.check.report.warnings)  # 6 training images per class
    tree = page.check.review.tree
    items, it = {}, QTreeWidgetItemIterator(tree)
    while it.value():
        items[it.value().text(0)] = it.value()
        it += 1
    link = items["Label more images…"]
    tree.scrollToItem(link)
    qtbot.mouseClick(tree.viewport(), Qt.LeftButton, pos=tree.visualItemRect(link).center())
    assert window.nav.currentRow() == list(window.pages).index("label")


def test_move_is_logged_and_undo_restores_the_files_exactly(qtbot, checked):
    window, page, train, wrong, _ = checked
    before = files(train)
    review = page.check.review
    select(review, [wrong])
    assert review.actions.move_button.isEnabled()
    review.actions.move_to("circle")
    assert not wrong.exists() and (train / "circle" / "from-circle.png").is_file()
    assert review._images[str(wrong)][0].text(4) == "Moved to circle"
    assert not review.actions.move_button.isEnabled()  # done: not acted on twice
    log = (train.parent / "Mine-labels.csv").read_text()
    assert "from-circle.png" in log and ",move" in log
    edit = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Edit")
    undo = edit.actions()[0]
    assert undo.isEnabled() and "move 1 image(s) to circle" in undo.text()
    undo.trigger()  # Edit ▸ Undo (Ctrl+Z)
    assert files(train) == before
    assert review._images[str(wrong)][0].text(4) == ""
    assert "undo move" in (train.parent / "Mine-labels.csv").read_text()
    window.state.undo_stack.redo()
    assert not wrong.exists() and (train / "circle" / "from-circle.png").is_file()


def test_leave_out_changes_the_project_and_training_leaves_the_images_out(qtbot, checked):
    from core.data.folders import load_datasets
    from core.project import load_project

    window, page, train, _, (original, copy) = checked
    before = files(train)
    review = page.check.review
    pair = next(r.parent() for r in review._images[str(copy)] if len(r.parent().data(0, PATHS) or []) == 2)
    review.tree.clearSelection()
    pair.setSelected(True)  # the pair's row stands for both images
    review.actions.exclude()
    assert files(train) == before  # the files stay
    assert set(window.state.project.excluded) == {str(original), str(copy)}
    window.state.save_now()
    assert set(load_project(window.state.project.path).excluded) == {str(original), str(copy)}
    config = window.state.train_config()
    data = load_datasets(config.train_dir, val_fraction=config.val_fraction, exclude=config.exclude)
    assert str(copy) not in {str(s.path) for s in data.train + data.val}
    assert review._images[str(copy)][0].text(4) == "Left out of training"
    window.state.undo_stack.undo()
    assert window.state.project.excluded == [] and review._images[str(copy)][0].text(4) == ""


def test_kept_images_are_remembered_and_not_listed_on_the_next_check(qtbot, checked):
    window, page, train, wrong, (original, copy) = checked
    review = page.check.review
    select(review, [wrong])
    review.actions.keep()
    assert window.state.project.kept == [str(wrong)]
    review.tree.clearSelection()
    next(r.parent() for r in review._images[str(copy)] if len(r.parent().data(0, PATHS) or []) == 2).setSelected(True)
    review.actions.keep()  # the pair: both of its images
    assert window.state.project.kept == [str(wrong), str(original), str(copy)]
    page.check.report = None
    page.check.button.click()
    qtbot.waitUntil(lambda: page.check.report is not None, timeout=60000)
    report = page.check.report
    assert str(wrong) not in {s.path for s in report.suspicious} and report.kept >= 1
    assert not any({d.a, d.b} == {str(original), str(copy)} for d in report.near_duplicates)


@pytest.fixture
def blend_window(qtbot, project_window, flyp_run, colour_data, tmp_path):
    """The window on a copy of the finished tiny run whose folders are copies too (the gallery's
    actions move files): the Blend page open, its exact evaluation done."""
    from core.training.runs import RunDir

    folders = {name: shutil.copytree(folder, tmp_path / "data" / name) for name, folder in colour_data.items()}
    run = RunDir(shutil.copytree(flyp_run, tmp_path / "runs" / "flyp"))
    info = run.read_info()
    info["config"] |= {"train_dir": str(folders["train"]), "val_dir": str(folders["val"]),
                       "ood_dirs": [str(folders["ood"])]}
    run.write_info(info)
    (run.path / "blend_curve.json").unlink(missing_ok=True)
    window = project_window
    window.state.set_folders(train=str(folders["train"]), val=str(folders["val"]), ood=[str(folders["ood"])])
    window.state.add_run(str(run.path))
    window.show_page("blend")
    page = window.pages["blend"]
    qtbot.waitUntil(lambda: page.curve is not None and page._exact_here() is not None, timeout=60000)
    qtbot.waitUntil(lambda: window.state.datasets is not None, timeout=20000)
    return window, page, folders


def test_a_confusion_cell_filters_the_gallery_and_the_list_saves_as_csv(qtbot, blend_window, tmp_path):
    window, page, _ = blend_window
    result = page.exact["sets"]["id"]
    confusion = result["confusion"]
    assert sum(map(sum, confusion)) == result["metrics"]["n"]
    matrix = page.confusion.table
    assert matrix.rowCount() == matrix.columnCount() == 3
    assert [[matrix.item(r, c).text() for c in range(3)] for r in range(3)] == \
        [[str(n) if n else "" for n in row] for row in confusion]
    # The fullest cell of mistakes, if there is one, else the fullest cell.
    t, p = max(((r, c) for r in range(3) for c in range(3)),
               key=lambda rc: (rc[0] != rc[1] and confusion[rc[0]][rc[1]] > 0, confusion[rc[0]][rc[1]]))
    matrix.setCurrentCell(t, p)
    matrix.cellClicked.emit(t, p)
    classes = result["classes"]
    shown = [page.gallery.item(i).toolTip() for i in range(page.gallery.count())]
    assert len(shown) == confusion[t][p]
    assert all(f"true class: {classes[t]}\npredicted: {classes[p]}" in tip for tip in shown)
    assert page.predictions.all_button.isVisible()
    page.by_class.setCurrentWidget(page.confusion)
    fits_1024_by_700(qtbot, window)

    out = tmp_path / "cell.csv"
    worker = page.predictions.save(str(out))
    qtbot.waitUntil(lambda: out.is_file() and not worker.running, timeout=10000)
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["path", "label", "predicted", "confidence"]
    assert len(rows) == confusion[t][p] and {(r["label"], r["predicted"]) for r in rows} == {(classes[t], classes[p])}

    page.predictions.all_button.click()
    wrong = sum(confusion[r][c] for r in range(3) for c in range(3) if r != c)
    assert page.gallery.count() == wrong and not page.predictions.all_button.isVisible()


def test_the_gallery_moves_an_image_whose_true_label_is_wrong_and_undo_puts_it_back(qtbot, blend_window):
    window, page, folders = blend_window
    before = files(folders["val"])
    page.set_combo.setCurrentIndex(page.set_combo.findData("id"))
    entry = page.gallery.item(0) if page.gallery.count() else None
    if entry is None:  # no mistake at this α: any cell will do
        page.confusion.table.setCurrentCell(0, 0)
        page.confusion.cell_chosen.emit((0, 0))
        entry = page.gallery.item(0)
    path = entry.data(Qt.UserRole)
    target = next(c for c in window.state.datasets.classes if c != Path(path).parent.name)
    entry.setSelected(True)
    page.predictions.actions.move_to(target)
    assert not Path(path).exists() and (folders["val"] / target / Path(path).name).is_file()
    assert entry.text().endswith(f"Moved to {target}")
    window.state.undo_stack.undo()
    assert files(folders["val"]) == before and "Moved" not in entry.text()
    entry.setSelected(True)
    page.predictions.actions.keep()
    assert window.state.project.kept == [path] and entry.text().endswith("Kept as is")


def test_the_check_keeps_the_window_responsive_and_can_be_stopped(qtbot, project_window, tiny_demo, tmp_path,
                                                                   forward_passes):
    from conftest import off_the_ui_thread

    window = project_window
    window.state.set_folders(train=str(shutil.copytree(tiny_demo / "train", tmp_path / "train")))
    window.show_page("data")
    qtbot.waitUntil(lambda: window.state.datasets is not None, timeout=20000)
    check = window.pages["data"].check
    check.button.click()
    assert check.stop_button.isVisible() and not check.button.isEnabled()
    check.stop_button.click()
    qtbot.waitUntil(lambda: check.button.isEnabled(), timeout=20000)
    assert check.report is None and check.summary.text() == "Check stopped." and not check.review.isVisible()

    forward_passes.clear()
    check.button.click()
    assert check.report is None  # it returned at once: the check goes on in the background
    qtbot.waitUntil(lambda: check.report is not None and not window.pages["data"].busy(), timeout=60000)
    assert off_the_ui_thread(forward_passes)


def test_the_check_results_have_room_for_several_rows_at_1366_by_768(qtbot, checked):
    """Issue #31 item 12: the list to review got two rows at 1366×768."""
    window, page, *_ = checked
    window.resize(1366, 768)
    qtbot.wait(50)
    tree = page.check.review.tree
    first = tree.topLevelItem(0)
    rows = [first.child(i) for i in range(first.childCount())] or [first]
    row_height = max(tree.visualItemRect(r).height() for r in rows)
    assert row_height > 0 and tree.viewport().height() >= 4 * row_height, (tree.viewport().height(), row_height)

"""The Blend, Try and Export pages, driven as a user would, on a finished tiny run."""

import re
import shlex
import shutil

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication, QImage, QTextDocumentFragment
from PySide6.QtWidgets import QHeaderView

from conftest import off_the_ui_thread
from core.cli import main



@pytest.fixture
def run_copy(flyp_run, tmp_path):
    """The finished run, copied: the pages write their α-curve cache into the run folder."""
    return shutil.copytree(flyp_run, tmp_path / "runs" / "flyp")


@pytest.fixture
def window(qtbot, tmp_path, run_copy):
    from flyp_app.window import MainWindow

    win = MainWindow(load_engine=False)
    qtbot.addWidget(win)
    win.create_project(tmp_path / "Mine.flyp.json")
    win.state.add_run(str(run_copy))
    win.show()
    yield win
    win.close()


@pytest.fixture(scope="module")
def reference(flyp_run):
    """The run opened directly through the engine, to check what the pages show."""
    from core.weights.blend import open_run, run_eval_sets

    blended = open_run(flyp_run)
    return blended, run_eval_sets(blended.info)


def open_blend(qtbot, window):
    window.show_page("blend")
    page = window.pages["blend"]
    qtbot.waitUntil(lambda: page.curve is not None and page._exact_here() is not None, timeout=60000)
    return page


def table_column(page, col):
    return [page.table.item(r, col).text().lstrip("≈ ") for r in range(page.table.rowCount())]


def test_curve_is_computed_plotted_and_reopens_from_the_run_folder(qtbot, window, run_copy, reference):
    page = open_blend(qtbot, window)
    assert len(page.curve) == 11
    for curve in page.alpha_plot.curves.values():
        assert len(curve.getData()[0]) == 11
    assert set(page.alpha_plot.curves) == {"validation", "ood"}
    xs, ys = page.robust_plot.curve.getData()
    assert len(xs) == 11 and len(ys) == 11
    zero_shot = reference[0].info["zeroshot"]["id"]["accuracy"]
    assert xs[0] == pytest.approx(100 * zero_shot)  # the zero-shot end is where training started
    assert (run_copy / "blend_curve.json").is_file()

    from flyp_app.caches import Caches

    window.state.caches = caches = Caches()  # a new session: only the file in the run folder is left
    opened = []
    real = caches.blend_session
    caches.blend_session = lambda *a, **k: opened.append(a) or real(*a, **k)
    try:
        page.curve = None
        page.load_curve()
        qtbot.waitUntil(lambda: page.curve is not None, timeout=5000)
        assert not opened  # no model was needed to show the curve again: it was read from the run folder
    finally:
        caches.blend_session = real


def test_slider_moves_markers_at_once_then_exact_table_and_gallery_follow(qtbot, window, reference, forward_passes):
    page = open_blend(qtbot, window)
    forward_passes.clear()
    for value in (16, 12, 8, 4, 0):  # a drag from α = 0.8 to 0
        page.slider.setValue(value)
        xs, ys = page.alpha_plot.markers.getData()
        assert list(xs) == [value / 20] * 2  # the markers moved at once, before any evaluation
        qtbot.wait(30)
    assert window.state.project.alpha == 0.0
    qtbot.waitUntil(lambda: page._exact_here() is not None, timeout=30000)
    assert off_the_ui_thread(forward_passes)  # the blend was evaluated in the background

    blended, sets = reference
    blended.set_alpha(0.0)
    metrics = blended.classifier.evaluate(sets["id"])
    wrong = sum(t != p for t, p in zip(metrics.labels, metrics.predictions))
    assert page.set_combo.currentData() == "id"
    assert table_column(page, 3) == table_column(page, 1)  # blended at α = 0 is the zero-shot model
    assert table_column(page, 3)[0] == f"{metrics.accuracy:.1%}"
    assert page.gallery.count() == min(wrong, 120)
    assert "α = 0.00" in page.gallery_label.text()
    from core.model.scores import class_scores

    expected = class_scores(metrics.confusion, metrics.class_names)  # per-class precision, recall, F1 at α
    assert table_column(page, 4)[1:] == [f"{s['f1']:.2f}" for s in expected.values()]
    assert [page.table.item(r, 4).toolTip() for r in range(1, page.table.rowCount())] == [
        f"precision {s['precision']:.2f} · recall {s['recall']:.2f} · F1 {s['f1']:.2f} ({s['n']} images)"
        for s in expected.values()]
    ys = page.alpha_plot.markers.getData()[1]
    assert ys[0] == pytest.approx(100 * metrics.accuracy)

    page.slider.setValue(20)
    qtbot.waitUntil(lambda: page._exact_here() is not None and page.exact["alpha"] == 1.0, timeout=30000)
    assert table_column(page, 3) == table_column(page, 2)  # and at α = 1 the finetuned one
    blended.set_alpha(1.0)
    metrics = blended.classifier.evaluate(sets["id"])
    assert page.gallery.count() == sum(t != p for t, p in zip(metrics.labels, metrics.predictions))
    if page.gallery.count():
        item = page.gallery.item(0)
        assert "→" in item.text() and not item.icon().isNull()


def drop(window, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(300, 300), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(event)


def expected_top(reference, path, alpha):
    from core.model.classifier import top_k
    from core.data.images import load_rgb
    from core.data.transforms import eval_image

    blended = reference[0]
    blended.set_alpha(alpha)
    clf = blended.classifier
    pixels = eval_image(load_rgb(path), clf.loaded.image_size, clf.loaded.preprocess["interpolation"])
    return top_k(clf.logits_from_features(clf.features(pixels[None])), clf.class_names, 3)[0]


def test_dropped_images_get_top_k_and_follow_alpha(qtbot, window, colour_data, reference, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not really a png")
    images = [sorted((colour_data["val"] / c).glob("*.png"))[0] for c in ("red", "blue")]
    window.state.set_alpha(0.5)
    drop(window, [*images, broken])
    page = window.pages["try"]
    assert window.stack.currentWidget() is page
    qtbot.waitUntil(lambda: len(page.items) == 3 and all(i.probs or i.error for i in page.items), timeout=30000)

    for row, path in enumerate(images):
        item = page.items[row]
        top = item.top(3)
        assert len(top) == 3 and sum(p for _, p in top) <= 1 + 1e-6
        expected = expected_top(reference, path, 0.5)
        assert top[0][0] == expected[0][0] and top[0][1] == pytest.approx(expected[0][1], abs=1e-5)
        bars = page.results.cellWidget(row, 2)
        assert [name for name, _ in bars.rows] == [name for name, _ in top]
    assert "not an image" in page.items[2].error
    assert "not an image" in page.results.cellWidget(2, 2).text()

    window.state.set_alpha(0.0)  # moving α on the Blend page re-predicts in the background
    qtbot.waitUntil(lambda: page.items[0].target is not None and page.items[0].target[2] == 0.0, timeout=30000)
    assert page.items[0].top(1)[0][0] == expected_top(reference, images[0], 0.0)[0][0]
    page.top_k.setValue(1)
    assert len(page.results.cellWidget(0, 2).rows) == 1


def calibrated_top(reference, run, path, alpha, temperature=None):
    """The top class and its confidence at α divided by `temperature` (default: the one predictions
    there use, the α curve's, fitted on ID validation), and that temperature."""
    from core.data.images import load_rgb
    from core.data.transforms import eval_image
    from core.trust.temperature import run_temperature

    blended = reference[0]
    blended.set_alpha(alpha)
    clf = blended.classifier
    pixels = eval_image(load_rgb(path), clf.loaded.image_size, clf.loaded.preprocess["interpolation"])
    temperature = run_temperature(run, alpha) if temperature is None else temperature
    probs = (clf.logits_from_features(clf.features(pixels[None])).float() / temperature).softmax(-1)[0]
    return clf.class_names[int(probs.argmax())], float(probs.max()), temperature


def test_try_is_calibrated_at_any_alpha_before_and_after_the_curve(qtbot, window, colour_data, reference, run_copy):
    """Try at α = 0.45 (never exported, between the curve's points) is calibrated before the α
    curve exists — by the T fitted on the run's ID validation images at 0.45 along with its novelty
    score, as fitting it by hand gives — and once the Blend page drew the curve, by the curve's T
    there; it never says its confidence is raw."""
    from core.trust.calibration import fit_temperature
    from flyp_app.words import UNCALIBRATED

    blended, sets = reference
    blended.set_alpha(0.45)
    logits = blended.classifier.logits_from_features(blended.classifier.features(sets["id"])).float()
    by_hand = fit_temperature(logits, sets["id"].labels)
    assert by_hand != pytest.approx(1.0)  # a fitted T: calibrated and raw differ

    images = [sorted((colour_data["val"] / c).glob("*.png"))[0] for c in ("red", "blue")]
    window.state.set_alpha(0.45)
    drop(window, images)
    page = window.pages["try"]
    qtbot.waitUntil(lambda: len(page.items) == 2 and all(i.probs for i in page.items), timeout=30000)
    assert UNCALIBRATED not in page.summary.text()
    raw = expected_top(reference, images[0], 0.45)[0]
    assert page.items[0].top(1)[0][1] != pytest.approx(raw[1], abs=1e-3)
    for row, path in enumerate(images):
        name, confidence, _ = calibrated_top(reference, run_copy, path, 0.45, by_hand)
        assert page.items[row].top(1)[0] == (name, pytest.approx(confidence, abs=1e-5))

    open_blend(qtbot, window)  # computes the α curve, with a temperature at each point
    window.state.set_alpha(0.35)  # between two other points of the curve
    window.show_page("try")
    qtbot.waitUntil(lambda: page.items[0].target is not None and page.items[0].target[2] == 0.35, timeout=30000)
    for row, path in enumerate(images):
        name, confidence, temperature = calibrated_top(reference, run_copy, path, 0.35)
        assert page.items[row].top(1)[0] == (name, pytest.approx(confidence, abs=1e-5))
    assert UNCALIBRATED not in page.summary.text()


def test_the_blend_gallery_and_calibration_tab_are_calibrated_at_the_sliders_alpha(qtbot, window, reference,
                                                                                 run_copy):
    from core.trust.temperature import run_temperature
    from flyp_app import trust_tasks
    from flyp_app.words import UNCALIBRATED

    page = open_blend(qtbot, window)
    page.slider.setValue(9)  # α = 0.45: never exported, between the curve's points
    qtbot.waitUntil(lambda: page._exact_here() is not None and page.exact["alpha"] == 0.45, timeout=30000)
    temperature = run_temperature(run_copy, 0.45)
    assert page.exact["calibrated"] is True and temperature != pytest.approx(1.0)
    blended, sets = reference
    blended.set_alpha(0.45)
    logits = blended.classifier.logits_from_features(blended.classifier.features(sets["id"])).float()
    calibrated, raw = (logits / temperature).softmax(-1).max(-1).values, logits.softmax(-1).max(-1).values
    shown = [image["confidence"] for image in page.exact["sets"]["id"]["images"]]
    assert shown == pytest.approx(calibrated.tolist(), abs=1e-5)
    assert shown != pytest.approx(raw.tolist(), abs=1e-3)
    wrong = page.exact["sets"]["id"]["wrong"]
    if wrong:  # the gallery's words: the most confident mistake first, calibrated
        assert f"({wrong[0]['confidence']:.0%} sure)" in page.gallery.item(0).toolTip()
    assert UNCALIBRATED not in page.gallery_label.text()
    report = trust_tasks.calibration_at(window.state.caches, str(run_copy), "cpu", 0.45)
    assert report["calibrated_predictions"] is True


def test_pasted_image_and_folders_are_classified(qtbot, window, colour_data):
    window.show_page("try")
    page = window.pages["try"]
    image = QImage(str(sorted((colour_data["val"] / "green").glob("*.png"))[0]))
    QGuiApplication.clipboard().setImage(image)
    page.paste()
    page.add_paths([colour_data["ood"] / "red"])
    qtbot.waitUntil(lambda: len(page.items) == 9 and all(i.probs for i in page.items), timeout=30000)
    assert page.items[0].name == "pasted image 1"
    assert page.results.rowCount() == 9


def test_try_on_a_run_whose_training_folder_gained_a_class_says_so_and_still_finds_novelty(
        qtbot, tmp_path, run_copy, colour_data):
    """A class folder added after training: Try predicts the run's classes with a novelty score
    (fitted on the run's own classes) and says once under the results that the folder changed."""
    import json
    import random

    from conftest import make_image
    from flyp_app.window import MainWindow

    train = shutil.copytree(colour_data["train"], tmp_path / "train")
    (train / "yellow").mkdir()
    rng = random.Random(5)
    for i in range(6):
        make_image((230, 220, 40), rng).save(train / "yellow" / f"yellow_{i}.png")
    info = json.loads((run_copy / "run.json").read_text())
    info["config"]["train_dir"] = str(train)
    (run_copy / "run.json").write_text(json.dumps(info))
    win = MainWindow(load_engine=False)
    qtbot.addWidget(win)
    win.create_project(tmp_path / "Mine.flyp.json")
    win.state.add_run(str(run_copy))
    win.show()
    try:
        drop(win, [sorted((colour_data["val"] / "red").glob("*.png"))[0]])
        page = win.pages["try"]
        qtbot.waitUntil(lambda: "changed since this run was trained" in page.summary.text(), timeout=60000)
        assert page.summary.text().count("changed since") == 1 and "'yellow'" in page.summary.text()
        item = page.items[0]
        assert item.novelty is not None and set(item.classes) == {"red", "green", "blue"}
    finally:
        win.close()


def test_export_writes_a_bundle_that_loads_and_reports_its_self_check(qtbot, window, tmp_path, colour_data):
    from core.export.bundle import load_bundle

    open_blend(qtbot, window)  # computes the curve, so the best α is known
    window.show_page("export")
    page = window.pages["export"]
    qtbot.waitUntil(lambda: page.curve is not None, timeout=10000)
    page.best.click()
    best = max(page.curve, key=lambda p: p["sets"]["id"]["accuracy"])
    assert window.state.project.alpha == best["alpha"] == page.alpha.value()
    assert window.pages["blend"].slider.value() == round(best["alpha"] * 20)
    page.out.setText(str(tmp_path / "my bundle"))  # a space: the command shown below quotes it
    page.export_button.click()
    qtbot.waitUntil(lambda: page.report is not None or page.status.isVisible(), timeout=60000)
    assert page.report is not None, page.status.text()
    bundle = load_bundle(tmp_path / "my bundle")
    assert bundle.info["alpha"] == best["alpha"]
    assert bundle.info["metrics"]["id"]["accuracy"] == pytest.approx(best["sets"]["id"]["accuracy"])
    # As `flyp export`: the calibration per set and what "none of these" keeps, in flyp.json, run.json and the card.
    from core.training.runs import RunDir

    calibration = bundle.info["calibration"]
    assert calibration["alpha"] == best["alpha"] and set(calibration["sets"]) == {"id", "ood"}
    assert RunDir(tmp_path / "runs" / "flyp").read_info()["calibration"] == calibration
    card = (tmp_path / "my bundle" / "README.md").read_text()
    assert "How far the confidence can be trusted" in card and "Coverage:" in card
    assert bundle.info["novelty"]["threshold"] > 0
    assert "same predictions" in page.result.text() and "Self-check passed" in page.result.text()
    assert page.open_folder.isEnabled()
    image = sorted((colour_data["val"] / "red").glob("*.png"))[0]
    assert bundle.predict([image], 1)[0][0][0] in bundle.class_names
    shown = re.search(r"flyp predict (.+) IMAGE_OR_FOLDER…", QTextDocumentFragment.fromHtml(page.result.text()).toPlainText())
    assert shown and main(["predict", *shlex.split(shown.group(1)), str(image.parent)]) == 0  # the command works as shown
    assert "flyp predict BUNDLE PATH…" in page.hint
    assert window.minimumSizeHint().width() <= 1024  # the long path wraps rather than widen the window


def test_pages_without_a_finished_run_say_what_to_do(qtbot, tmp_path):
    from flyp_app.window import MainWindow

    win = MainWindow(load_engine=False)
    qtbot.addWidget(win)
    win.create_project(tmp_path / "Empty.flyp.json")
    for name in ("blend", "try", "export"):
        page = win.pages[name]
        assert page.body.currentIndex() == 0
        assert "Train a model on the Train page first" in page.body.note.text()
    win.close()


def test_engine_errors_are_shown_inline(qtbot, window, run_copy, colour_data, tmp_path):
    import json

    info = json.loads((run_copy / "run.json").read_text())
    moved = tmp_path / "gone"
    info["config"]["val_dir"] = str(moved)
    (run_copy / "run.json").write_text(json.dumps(info))
    window.state.runs_changed.emit()
    window.show_page("blend")
    page = window.pages["blend"]
    qtbot.waitUntil(lambda: page.status.isVisible(), timeout=30000)
    assert str(moved) in page.status.text()
    assert not page.progress.isVisible()


def test_every_page_fits_a_1280_by_800_window(qtbot, flyp_run, tmp_path):
    """Nothing cut off at the README's screenshot size, with a run named as the app names them."""
    from PySide6.QtCore import QSize
    from PySide6.QtWidgets import QScrollArea

    from flyp_app.window import MainWindow

    run = shutil.copytree(flyp_run, tmp_path / "Mine-runs" / "2026-11-29 0935 flyp-frozen-text (2)")
    window = MainWindow(load_engine=False)
    qtbot.addWidget(window)
    window.create_project(tmp_path / "Mine.flyp.json")
    window.state.add_run(str(run))
    window.resize(1280, 800)
    window.show()
    window.pages["train"].params.toggle.setChecked(True)  # the Train page with its advanced settings open
    window.pages["try"].progress.show()  # as while images are being classified
    for name, page in window.pages.items():
        window.show_page(name)
        qtbot.wait(20)
        hint = window.minimumSizeHint()
        assert hint.width() <= 1280 and hint.height() <= 800, f"{page.title} needs {hint.width()}×{hint.height()}"
        assert window.size() == QSize(1280, 800), page.title
    settings = window.pages["train"].findChild(QScrollArea)
    assert settings.widget().minimumSizeHint().width() <= settings.viewport().width()  # no field cut at the right
    qtbot.waitUntil(lambda: window.pages["blend"].curve is not None and not window.pages["compare"].busy(), timeout=60000)
    window.close()


def test_a_thousand_classes_do_not_freeze_the_blend_page(qtbot, tmp_path):
    """The per-class table of an ImageNet-sized run: a curve, an exact result and slider steps stay quick."""
    from flyp_app.theme import style_sheet
    from flyp_app.widgets.blend_run_picker import RunSummary
    from flyp_app.window import MainWindow

    window = MainWindow(load_engine=False)
    window.setStyleSheet(style_sheet())  # as the app's: styled cells are slower to measure
    qtbot.addWidget(window)
    window.create_project(tmp_path / "Mine.flyp.json")
    window.resize(1280, 800)
    window.show()
    page = window.pages["blend"]
    run = RunSummary("big", str(tmp_path / "big"), "big", "finished", True, "", (1, 2), 0.9)
    page.picker.current = lambda: run  # no model: the page is fed a curve and an exact result
    page.body.show_run(run)
    window.show_page("blend")
    classes = [f"class {i}" for i in range(1000)]

    def metrics(accuracy):  # per-class accuracies from 0% to 100%: cells of every width
        return {"accuracy": accuracy, "n": 50_000,
                "per_class": {c: ((37 * i + round(100 * accuracy)) % 101) / 100 for i, c in enumerate(classes)}}

    curve = [{"alpha": a / 10, "sets": {"id": metrics(0.5 + a / 30), "ood": metrics(0.8 - a / 30)}} for a in range(11)]
    page._curve_run, page.alpha = run, 0.5
    window.state.set_alpha(0.5, run.stored)  # chosen for this run already: it does not move to the best α
    page._curve_done(run, curve)
    qtbot.wait(1)  # painted before the exact result comes, as in the app
    page._exact_seq = 1
    page._exact_done(1, {"run": run.path, "alpha": 0.5,
                         "sets": {n: {"metrics": metrics(0.7), "wrong": []} for n in ("id", "ood")}})
    qtbot.wait(1)
    assert page.table.rowCount() == 1001 and page.table.item(1000, 3).text() == f"{((37 * 999 + 70) % 101) / 100:.1%}"
    for value in (11, 12, 13):  # estimates from the curve for every class, on each step of the slider
        page.slider.setValue(value)
        qtbot.wait(1)
    assert page.table.item(0, 3).text().startswith("≈ ")
    page._exact_timer.stop()
    # Fixed column widths: ResizeToContents re-measured all 1,001 rows on every change (8.5 s here)
    header = page.table.horizontalHeader()
    assert all(header.sectionResizeMode(c) != QHeaderView.ResizeToContents for c in range(page.table.columnCount()))
    window.close()

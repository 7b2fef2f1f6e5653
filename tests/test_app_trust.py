"""Trusting predictions in the app: "none of these classes" on the Try page (its threshold in the
user's words, defaulting to the engine's), heat maps on request, the Blend page's reliability."""

from __future__ import annotations

import shutil

import pytest

from conftest import off_the_ui_thread


from test_app_classify_folder import window  # noqa: F401  (the window with a copy of the finished run)


def engine_predictions(run, files, alpha):
    """What `flyp predict` says of `files`: each image's novelty and verdict, and the score itself."""
    from core.labelling.classify import classify_files
    from core.labelling.predictor import open_predictor

    predictor = open_predictor(run, alpha)
    found = [p for batch in classify_files(files, predictor) for p in batch]
    return {str(p.path): p for p in found}, predictor.novelty_model()


def verdict_shown(page, row) -> bool:
    bars = page.results.cellWidget(row, 2)
    return not bars.verdict.isHidden() and "None of these classes" in bars.verdict.text()


def test_try_says_none_of_these_and_its_threshold_follows_the_control(qtbot, window, colour_data, flyp_run,
                                                                        forward_passes):
    from core.trust.novelty import threshold_for

    files = sorted(str(p) for p in colour_data["val"].rglob("*.png"))
    window.state.set_alpha(0.5)
    page = window.show_page("try")
    page.add_paths(files)
    qtbot.waitUntil(lambda: len(page.items) == len(files) and all(i.probs for i in page.items)
                    and page.novelty.isEnabled(), timeout=60000)
    assert off_the_ui_thread(forward_passes)  # the score was fitted and applied in the background

    expected, novelty = engine_predictions(flyp_run, files, 0.5)
    assert page.novelty.keep.value() == 95  # the engine's threshold, chosen on ID validation
    assert page.novelty.threshold() == pytest.approx(novelty.threshold)
    for row, item in enumerate(page.items):
        assert item.novelty == pytest.approx(expected[item.path].novelty, rel=1e-4, abs=1e-4)
        assert verdict_shown(page, row) == (expected[item.path].known is False)

    page.novelty.keep.setValue(50)  # stricter: half the validation images are called none of these
    strict = threshold_for(novelty.validation, 0.5)
    unknown = [row for row, item in enumerate(page.items) if expected[item.path].novelty > strict]
    assert unknown and len(unknown) < len(files)
    assert [row for row in range(len(files)) if verdict_shown(page, row)] == unknown
    assert f"{len(unknown)} like none of these classes" in page.summary.text()
    kept = float((novelty.validation <= strict).float().mean())
    assert f"validation {kept:.0%}" in page.novelty.effect.text()
    from core.labelling.predictor import open_predictor
    from core.trust.choices import keep_choices, set_scores
    from core.weights.blend import open_run, run_eval_sets

    scores = set_scores(open_predictor(flyp_run, 0.5), novelty, run_eval_sets(open_run(flyp_run).info))
    ood = keep_choices(novelty, scores, [0.5])[0]["known"]["ood"]  # and what it keeps of the different conditions
    assert f"ood {ood:.0%}" in page.novelty.effect.text()

    from flyp_app.try_items import table_csv

    rows = table_csv(page.items, 3, page._threshold()).splitlines()[1:]
    assert sum(row.split(",")[3] == "false" for row in rows) == len(unknown)  # the saved table says the same


def test_the_label_pages_suggestions_from_a_run_say_none_of_these(qtbot, tmp_path, colour_data, flyp_run):
    import random

    from PIL import Image

    from conftest import TINY
    from core.labelling.predictor import open_predictor
    from core.project import Project, save_project
    from core.trust.fitting import known_files
    from flyp_app.pages.label_page import LabelPage
    from flyp_app.state import AppState

    new = tmp_path / "new"
    new.mkdir()
    for path in sorted(colour_data["ood"].rglob("*.jpg"))[::3]:
        shutil.copy(path, new / path.name)
    rng = random.Random(5)
    for i in range(4):  # noise: like none of the colour classes
        Image.frombytes("RGB", (48, 48), bytes(rng.randrange(256) for _ in range(48 * 48 * 3))).save(new / f"noise_{i}.png")
    run = str(shutil.copytree(flyp_run, tmp_path / "runs" / "flyp"))
    project = Project(name="Mine", train_dir=str(shutil.copytree(colour_data["train"], tmp_path / "train")), model=TINY,
                      pretrained="none", runs=[run])
    save_project(project, tmp_path / "Mine.flyp.json")
    state = AppState(project)
    page = LabelPage(state)
    qtbot.addWidget(page)
    page.show()
    state.project_changed.emit()
    page.open_folder(str(new))
    qtbot.waitUntil(lambda: bool(page.items) and all(i.probs for i in page.items.values())
                    and "Suggestions from" in page.status.text(), timeout=60000)
    assert all(item.known is None for item in page.items.values())  # zero-shot has no training images to compare with
    index = page.source.findData(run)
    assert index > 0
    page.source.setCurrentIndex(index)
    page.source.activated.emit(index)  # as a choice in the list does
    qtbot.waitUntil(lambda: all(i.known is not None for i in page.items.values())
                    and "Suggestions from" in page.status.text(), timeout=60000)

    expected = known_files(open_predictor(run, state.project.alpha), sorted(page.items))
    assert {path: item.known for path, item in page.items.items()} == expected
    assert not all(expected.values())
    for path, item in page.items.items():
        assert ("none of these?" in item.widget.text()) == (not expected[path])
    page.stop_workers()


def test_where_it_looked_shows_the_engines_heat_maps_computed_in_the_background(qtbot, window, colour_data, flyp_run,
                                                                                forward_passes):
    import io

    import numpy as np
    from PIL import Image

    from core.data.images import load_rgb
    from core.trust.explain import explain, open_explainer, overlay

    files = [str(sorted((colour_data["val"] / c).glob("*.png"))[0]) for c in ("red", "blue")]
    window.state.set_alpha(0.5)
    page = window.show_page("try")
    page.add_paths(files)
    qtbot.waitUntil(lambda: len(page.items) == 2 and all(i.probs for i in page.items), timeout=60000)
    assert page.looked_class.isHidden()
    forward_passes.clear()
    page.looked.click()
    wanted = page._heat_wanted()
    qtbot.waitUntil(lambda: all(i.heat_for == wanted for i in page.items), timeout=60000)
    assert off_the_ui_thread(forward_passes)  # the gradients ran in a worker

    explainer = open_explainer(flyp_run, 0.5)

    def engine_map(path, class_name=None):
        picture = overlay(explain(explainer, load_rgb(path), class_name))
        picture.thumbnail((96, 96))
        return np.asarray(picture, dtype=np.float32)

    for row, (item, path) in enumerate(zip(page.items, files)):
        shown = np.asarray(Image.open(io.BytesIO(item.heat)).convert("RGB"), dtype=np.float32)
        assert np.abs(shown - engine_map(path)).mean() < 2  # the engine's map of the most likely class
        assert page.results.item(row, 0).data(0x0100) == f"{item.key}|heat|{wanted}"  # Qt.UserRole: the heat map shows

    page.looked_class.setCurrentIndex(page.looked_class.findText("for green"))  # one class for every image
    wanted = page._heat_wanted()
    qtbot.waitUntil(lambda: all(i.heat_for == wanted for i in page.items), timeout=60000)
    green = explainer.class_names[page.looked_class.currentData()]
    for item, path in zip(page.items, files):
        shown = np.asarray(Image.open(io.BytesIO(item.heat)).convert("RGB"), dtype=np.float32)
        assert np.abs(shown - engine_map(path, green)).mean() < 2
    page.looked.click()  # off: the images themselves again
    assert page.results.item(0, 0).data(0x0100) == page.items[0].key


def test_the_blend_page_shows_how_far_to_trust_the_confidence_per_set(qtbot, window, flyp_run, forward_passes):
    from core.labelling.predictor import from_run
    from core.trust.fitting import measure_blend
    from core.weights.blend import open_run, run_eval_sets

    window.state.set_alpha(0.5)
    page = window.show_page("blend")
    qtbot.waitUntil(lambda: page.curve is not None and page._exact_here() is not None, timeout=60000)
    forward_passes.clear()
    page.by_class.setCurrentWidget(page.reliability)
    view = page.reliability.widget()
    qtbot.waitUntil(lambda: view.report is not None, timeout=60000)
    assert off_the_ui_thread(forward_passes)

    blended = open_run(flyp_run)
    novelty = from_run(blended, 0.5).novelty_model()
    expected = measure_blend(blended, run_eval_sets(blended.info), novelty)
    assert view.report["temperature"] == pytest.approx(expected["temperature"], rel=1e-3)
    assert set(view.curves) == set(expected["sets"]) == {"id", "ood"}
    for name, s in expected["sets"].items():
        xs, ys = view.curves[name].getData()
        bins = [b for b in s["reliability"] if b["n"]]
        assert list(xs) == pytest.approx([100 * b["confidence"] for b in bins], abs=0.5)
        assert list(ys) == pytest.approx([100 * b["accuracy"] for b in bins], abs=0.5)
        assert f"off by {100 * s['calibration_error_calibrated']:.0f} points" in view.words.toPlainText()
        # Beside it, for each minimum confidence (as predictions give it): the share kept and their accuracy.
        # (not calibrated at this α yet; less sure of unusual images, as predictions are)
        rows = [r for r in s["coverage_uncalibrated_with_novelty"] if r["accuracy"] is not None]
        accuracy, kept = (curve.getData() for curve in view.kept[name])
        assert list(accuracy[0]) == pytest.approx([100 * r["threshold"] for r in rows])
        assert list(accuracy[1]) == pytest.approx([100 * r["accuracy"] for r in rows])
        assert list(kept[1]) == pytest.approx([100 * r["coverage"] for r in rows])
        half = next(r for r in rows if r["threshold"] == pytest.approx(0.5))
        assert f"at least 50% sure: {half['coverage']:.0%} of the images, {half['accuracy']:.0%} of them right" \
            in view.words.toPlainText()
        lowered = s["calibration_error_with_novelty"]  # the novelty score lowering the confidence of the unusual
        sure = s["mean_confidence_with_novelty"]  # as predictions give it: less sure of unusual images
        assert f"less sure of unusual images (by the “none of these” score): then off by {100 * lowered:.0f}, " \
            f"{sure:.0%} sure on average" in view.words.toPlainText()
    gap = 100 * (expected["sets"]["ood"]["calibration_error_calibrated"] - expected["sets"]["id"]["calibration_error_calibrated"])
    assert (f"{gap:.0f} points more than on validation" in view.words.toPlainText()) == (gap >= 1)


def test_the_blend_page_shows_what_finetuning_forgot_and_balances_keeping_it(qtbot, window, flyp_run, tmp_path,
                                                                             forward_passes):
    import random

    from conftest import make_image
    from core.trust.forgetting import control_curve, forgotten
    from core.weights.blend import open_run

    folder = tmp_path / "other classes"
    rng = random.Random(4)
    for name, colour in {"yellow": (230, 210, 40), "purple": (130, 40, 170)}.items():
        (folder / name).mkdir(parents=True)
        for i in range(5):
            make_image(colour, rng).save(folder / name / f"{i}.png")
    page = window.show_page("blend")
    qtbot.waitUntil(lambda: page.curve is not None and page._exact_here() is not None, timeout=60000)
    forward_passes.clear()
    page.by_class.setCurrentWidget(page.forgetting)
    page.measure_control(str(folder))
    qtbot.waitUntil(lambda: page.forgetting.control is not None, timeout=60000)
    assert off_the_ui_thread(forward_passes)

    expected = control_curve(open_run(flyp_run), folder)
    shown = [page.forgetting.table.item(r, 1).text() for r in range(page.forgetting.table.rowCount())]
    assert shown == [f"{p['accuracy']:.1%}" for p in expected["curve"]]
    assert f"zero-shot {expected['zero_shot']:.1%}" in page.forgetting.words.text()

    page.forgetting.points.setValue(0)
    page.forgetting.balance.click()  # best balance, forgetting nothing of the control set
    assert forgotten(expected, window.state.project.alpha) <= 1e-9
    assert "within 0 points" in page.rule.text()

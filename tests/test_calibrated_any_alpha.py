"""A run's predictions are calibrated at any α, not only at the exported one: its α curve
(`blend_curve.json`) fits a temperature on the ID validation logits at α = 0, 0.1, …, 1, and
predictions in between divide by the one interpolated between their neighbours' (in log T)
(core.weights.blend.alpha_curve, core.trust.temperature.run_temperature)."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch

from cli_helpers import run_cli, two_photos_per_colour as _photos
from core.trust.calibration import fit_temperature
from core.trust.temperature import curve_temperature, run_temperature
from core.weights.curve import CURVE_FILE, cached_curve, run_curve


@pytest.fixture(scope="module")
def curved_run(flyp_run, tmp_path_factory):
    """A copy of the tiny run with its α curve computed (and cached) now."""
    run = tmp_path_factory.mktemp("curved") / "run"
    shutil.copytree(flyp_run, run)
    (run / CURVE_FILE).unlink(missing_ok=True)
    return run, run_curve(run)


def _id_logits_at(run, alpha: float):
    """The blend's logits at `alpha` on the run's ID validation images, computed here from scratch."""
    from core.weights.blend import open_run, run_eval_sets

    blended = open_run(run)
    images = run_eval_sets(blended.info)["id"]
    blended.set_alpha(alpha)
    return blended.classifier.logits_from_features(blended.classifier.features(images)), images.labels


def test_each_curve_point_keeps_the_temperature_fitted_on_validation_there(curved_run):
    run, curve = curved_run
    assert [p["alpha"] for p in curve] == pytest.approx([i / 10 for i in range(11)])
    for point in curve:
        logits, labels = _id_logits_at(run, point["alpha"])
        assert point["temperature"] == pytest.approx(fit_temperature(logits, labels), rel=1e-3)
        assert point["temperature_fit"] in ("fitted", "clamped", "no validation errors")
    assert json.loads((run / CURVE_FILE).read_text())["curve"][3]["temperature"] == curve[3]["temperature"]
    assert len({round(p["temperature"], 3) for p in curve}) > 1  # the fixture's blends differ: the test can fail


def test_predict_at_an_alpha_never_exported_is_calibrated_by_the_curve(capsys, curved_run, colour_data, tmp_path):
    """α = 0.3 was never exported (run.json has no calibration): `flyp predict --json` divides by
    the T fitted on ID validation at 0.3, as fitting it by hand gives, and says so."""
    run, _ = curved_run
    logits, labels = _id_logits_at(run, 0.3)
    by_hand = fit_temperature(logits, labels)
    paths = _photos(colour_data, tmp_path)
    code, out, _ = run_cli(capsys, "predict", run, *paths, "--alpha", "0.3", "--top-k", "3", "--json")
    report = json.loads(out)
    assert code == 0 and report["calibrated"] is True
    assert not any("raw softmax" in w for w in report["warnings"])
    assert report["temperature"] == pytest.approx(by_hand, rel=1e-3)

    from core.labelling.predictor import open_predictor
    from core.model.feature_cache import image_features

    predictor = open_predictor(run, 0.3)
    items = [item for batch in image_features(paths, predictor) for item in batch]
    image_logits = predictor.head(torch.stack([item.features for item in items])).float()
    expected = (image_logits / by_hand).softmax(-1)
    for p, row in zip(report["predictions"], expected.tolist()):
        probs = dict(zip(predictor.class_names, row))
        for entry in p["top_k"]:
            assert entry["probability"] == pytest.approx(probs[entry["class"]], abs=1e-4)


def test_between_grid_points_the_temperature_is_interpolated_in_log_t(curved_run):
    run, curve = curved_run
    t3, t4 = curve[3]["temperature"], curve[4]["temperature"]
    assert run_temperature(run, 0.3) == pytest.approx(t3)
    assert run_temperature(run, 0.35) == pytest.approx(math.sqrt(t3 * t4))
    assert run_temperature(run, 0.325) == pytest.approx(t3 ** 0.75 * t4 ** 0.25)
    points = [{"alpha": 0.0, "temperature": 0.5}, {"alpha": 0.1, "temperature": 2.0}]
    assert curve_temperature(points, 0.05) == pytest.approx(1.0)  # halfway between 0.5 and 2 is 1 on a scale
    assert curve_temperature(points, 0.1) == pytest.approx(2.0)
    assert curve_temperature(points, 0.2) is None  # outside the curve
    assert curve_temperature(points[:1] + [{"alpha": 0.1}], 0.05) is None  # a point without its T


def test_the_exported_calibration_wins_at_its_own_alpha(curved_run, tmp_path):
    from core.training.runs import RunDir

    run = tmp_path / "run"
    shutil.copytree(curved_run[0], run)
    RunDir(run).update_info(calibration={"alpha": 0.3, "temperature": 7.0, "temperature_fit": "fitted",
                                         "sets": {"id": {"accuracy": 0.8}}})
    assert run_temperature(run, 0.3) == 7.0
    assert run_temperature(run, 0.4) == pytest.approx(curved_run[1][4]["temperature"])  # elsewhere the curve's


def test_a_curve_cached_before_temperatures_is_computed_again_and_meanwhile_validation_calibrates(
        capsys, curved_run, colour_data, tmp_path):
    """A blend_curve.json of format 1 (no temperatures) reads as no curve, and is computed again
    (with its temperatures) the next time it is needed. Meanwhile predictions at α are calibrated
    all the same: fitting the run's novelty score on its ID validation images at α fits their
    temperature too — the same T as by hand."""
    run = tmp_path / "run"
    shutil.copytree(curved_run[0], run)
    data = json.loads((run / CURVE_FILE).read_text())
    for point in data["curve"]:
        point.pop("temperature"), point.pop("temperature_fit")
    data["format"] = 1
    (run / CURVE_FILE).write_text(json.dumps(data))
    assert cached_curve(run) is None and run_temperature(run, 0.3) is None
    code, out, _ = run_cli(capsys, "predict", run, *_photos(colour_data, tmp_path), "--alpha", "0.3", "--json")
    report = json.loads(out)
    assert code == 0 and report["calibrated"] is True
    assert report["temperature"] == pytest.approx(fit_temperature(*_id_logits_at(run, 0.3)), rel=1e-3)
    assert not any("raw softmax" in w for w in report["warnings"])
    curve = run_curve(run)
    assert all("temperature" in p for p in curve)
    assert run_temperature(run, 0.3) == pytest.approx(curved_run[1][3]["temperature"], rel=1e-3)


def test_a_run_whose_images_are_gone_predicts_raw_and_says_so(capsys, curved_run, colour_data, tmp_path):
    """No curve and no usable validation images to fit a temperature on: the raw softmax, said."""
    from core.training.runs import RunDir

    run = tmp_path / "run"
    shutil.copytree(curved_run[0], run)
    (run / CURVE_FILE).unlink()
    config = RunDir(run).read_info()["config"]
    RunDir(run).update_info(config=config | {"train_dir": str(tmp_path / "gone"), "val_dir": str(tmp_path / "gone")})
    code, out, _ = run_cli(capsys, "predict", run, *_photos(colour_data, tmp_path), "--alpha", "0.3", "--json")
    report = json.loads(out)
    assert code == 0 and report["calibrated"] is False and report["temperature"] is None
    assert any("raw softmax" in w and "α = 0.3" in w for w in report["warnings"])  # said, not silent

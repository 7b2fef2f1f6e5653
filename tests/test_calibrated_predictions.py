"""Predictions give the calibrated confidence, softmax(logits / T), wherever a temperature was fitted
on ID validation (a bundle's flyp.json, a run's run.json at the same α), and the raw softmax with
`calibrated: false` where none was (core.labelling.predictor, core.trust.temperature)."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from cli_helpers import run_cli, two_photos_per_colour as _photos
from core.training.runs import RunDir
from core.trust import calibration
from core.trust.temperature import from_calibration
from core.trust.temperature_range import T_MAX, T_MIN


def _calibration(temperature: float, alpha: float = 1.0, accuracy: float = 0.8) -> dict:
    return {"alpha": alpha, "temperature": temperature, "temperature_fit": "fitted",
            "sets": {"id": {"n": 12, "accuracy": accuracy, "mean_confidence": 0.9, "calibration_error": 0.1,
                            "calibration_error_calibrated": 0.02, "coverage": []}}}


def _bundle_with(flyp_bundle, tmp_path, calibration_entry):
    bundle = tmp_path / "bundle"
    shutil.copytree(flyp_bundle, bundle)
    info = json.loads((bundle / "flyp.json").read_text())
    info.pop("calibration", None)
    if calibration_entry is not None:
        info["calibration"] = calibration_entry
    (bundle / "flyp.json").write_text(json.dumps(info))
    return bundle


def _by_hand(bundle_dir, paths, temperature: float) -> dict[str, list[float]]:
    """softmax(logits / T) from the bundle's own logits: per image, its probabilities by class."""
    from core.export.bundle import load_bundle

    bundle = load_bundle(bundle_dir)
    with torch.no_grad():
        probs = (bundle.logits(bundle.images(paths)).float() / temperature).softmax(-1)
    return {str(p): dict(zip(bundle.class_names, row)) for p, row in zip(paths, probs.tolist())}


@pytest.mark.parametrize("temperature", [2.5, 0.4])
def test_a_bundle_with_a_temperature_gives_the_calibrated_confidence(capsys, flyp_bundle, colour_data, tmp_path,
                                                                     temperature):
    bundle = _bundle_with(flyp_bundle, tmp_path, _calibration(temperature))
    paths = _photos(colour_data, tmp_path)
    code, out, err = run_cli(capsys, "predict", bundle, *paths, "--top-k", "3", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["calibrated"] is True and report["temperature"] == pytest.approx(temperature)
    expected, raw = _by_hand(bundle, paths, temperature), _by_hand(bundle, paths, 1.0)
    for p in report["predictions"]:
        for entry in p["top_k"]:
            assert entry["probability"] == pytest.approx(expected[p["path"]][entry["class"]], abs=1e-5)
        assert p["confidence"] != pytest.approx(max(raw[p["path"]].values()), abs=1e-4)  # not the raw softmax
    from core.export.bundle import load_bundle

    for path, top in zip(paths, load_bundle(bundle).predict(paths, 3)):  # the bundle's own API says the same
        assert [q for _, q in top] == pytest.approx(sorted(expected[str(path)].values(), reverse=True), abs=1e-5)


def test_the_model_cards_sample_prints_the_calibrated_confidence(flyp_bundle, colour_data, tmp_path):
    import re
    import subprocess
    import sys

    bundle = _bundle_with(flyp_bundle, tmp_path, _calibration(2.5))
    card = (bundle / "README.md").read_text()
    sample = next(block for block in re.findall(r"```python\n(.*?)```", card, re.S) if "class_head" in block)
    (tmp_path / "classify.py").write_text(sample)
    image = _photos(colour_data, tmp_path)[0]
    done = subprocess.run([sys.executable, str(tmp_path / "classify.py"), str(image)], cwd=bundle,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    name, probability = done.stdout.strip().split("\t")
    assert float(probability) == pytest.approx(_by_hand(bundle, [image], 2.5)[str(image)][name], abs=2e-3)


def test_a_bundle_without_one_gives_the_raw_softmax_and_says_so(capsys, flyp_bundle, colour_data, tmp_path):
    bundle = _bundle_with(flyp_bundle, tmp_path, None)
    paths = _photos(colour_data, tmp_path)
    code, out, err = run_cli(capsys, "predict", bundle, *paths, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["calibrated"] is False and report["temperature"] is None
    raw = _by_hand(bundle, paths, 1.0)
    for p in report["predictions"]:
        assert p["confidence"] == pytest.approx(max(raw[p["path"]].values()), abs=1e-5)


def test_sorting_into_uncertain_compares_the_calibrated_confidence(capsys, flyp_bundle, colour_data, tmp_path):
    """A temperature of 20 (close to the uniform 1/3 over three colours) sends every image under
    0.5 to `_uncertain/`, where the raw confidences of the same images would have sorted them."""
    paths = _photos(colour_data, tmp_path)
    raw = _by_hand(flyp_bundle, paths, 1.0)
    assert sum(max(r.values()) >= 0.5 for r in raw.values()) >= 4
    bundle = _bundle_with(flyp_bundle, tmp_path, _calibration(20.0))
    code, _, err = run_cli(capsys, "predict", bundle, *paths, "--sort-into", tmp_path / "sorted", "--min-confidence",
                           "0.5", "--json")
    assert code == 0, err
    assert {p.parent.name for p in (tmp_path / "sorted").rglob("*.png")} <= {"_uncertain", "_unknown"}


def test_a_run_is_calibrated_at_the_alpha_its_temperature_was_measured_at(capsys, flyp_run, colour_data, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(flyp_run, run)
    RunDir(run).update_info(calibration=_calibration(3.0, alpha=0.5))
    paths = _photos(colour_data, tmp_path)
    code, out, _ = run_cli(capsys, "predict", run, *paths, "--alpha", "0.5", "--top-k", "3", "--json")
    at_half = json.loads(out)
    code2, out2, _ = run_cli(capsys, "predict", run, *paths, "--alpha", "1", "--top-k", "3", "--json")
    at_one = json.loads(out2)
    assert code == code2 == 0
    assert at_half["calibrated"] is True and at_half["temperature"] == 3.0
    # measured at α = 0.5 only: α = 1 is another model, calibrated by its own T (fitted on the same
    # validation images at α = 1, with its novelty score), not the 3.0 of α = 0.5
    assert at_one["calibrated"] is True and at_one["temperature"] != pytest.approx(3.0)

    from core.labelling.predictor import open_predictor
    from core.model.feature_cache import image_features

    predictor = open_predictor(run, 0.5)
    items = [item for batch in image_features(paths, predictor) for item in batch]
    logits = predictor.head(torch.stack([item.features for item in items])).float()
    expected = (logits / 3.0).softmax(-1)
    for p, row in zip(at_half["predictions"], expected.tolist()):
        probs = dict(zip(predictor.class_names, row))
        for entry in p["top_k"]:
            assert entry["probability"] == pytest.approx(probs[entry["class"]], abs=1e-5)

    from core.weights.session import BlendSession  # Try's path to the same model: the same numbers
    from core.data.transforms import eval_new_image, open_new_image

    session = BlendSession.open(run, "cpu")
    size = session.blended.classifier.loaded.image_size
    pixels = [eval_new_image(open_new_image(p, size), size, "bicubic") for p in paths]
    got, _ = session.predict(0.5, pixels)
    assert max(got[0]) == pytest.approx(at_half["predictions"][0]["confidence"], abs=1e-4)


def test_a_perfect_validation_set_keeps_the_raw_confidence():
    """Every validation image right: the NLL falls without end as T → 0 (every confidence 1.00);
    the fit keeps T = 1 and says why. A nearly separable set stays within the range."""
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (200,), generator=g)
    logits = torch.randn(200, 4, generator=g) + 10 * torch.nn.functional.one_hot(labels, 4)
    assert bool((logits.argmax(-1) == labels).all())
    fit = calibration.temperature_fit(logits, labels)
    assert fit == {"temperature": 1.0, "temperature_fit": "no validation errors"}
    assert calibration.calibration_report({"id": (logits, labels)})["temperature_fit"] == "no validation errors"
    logits[:3] = -logits[:3]  # three errors: a real fit, within the range
    fit = calibration.temperature_fit(logits, labels)
    assert fit["temperature_fit"] in ("fitted", "clamped") and T_MIN <= fit["temperature"] <= T_MAX


def test_a_collapsed_temperature_kept_before_the_rule_reads_as_none():
    """A bundle exported before the rule, with validation 100% right and T = 0.015, predicts with
    T = 1; a damaged temperature is a one-line reason naming the file."""
    from core.errors import FlypError

    assert from_calibration(_calibration(0.015, accuracy=1.0), "flyp.json") == 1.0
    assert from_calibration(_calibration(0.001), "flyp.json") == T_MIN
    with pytest.raises(FlypError, match="flyp.json.*temperature"):
        from_calibration({"temperature": "hot"}, "flyp.json")


def test_the_onnx_model_outputs_the_calibrated_probabilities_last(flyp_run, colour_data, tmp_path):
    """onnxruntime on the exported graph: its last output `probabilities` is softmax(logits / T)
    with the T in flyp.json, and the export's self-check compared it with the engine's."""
    import onnx
    import onnxruntime

    from core.export.bundle import load_bundle
    from core.export.write import export_bundle
    from core.weights.blend import open_run

    out = tmp_path / "bundle"
    report = export_bundle(open_run(flyp_run), out, onnx=True, calibration=_calibration(2.0))
    assert report["onnx_max_calibrated_difference"] < 1e-4
    session = onnxruntime.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    assert names[0] == "logits" and names[-1] == "probabilities"
    bundle = load_bundle(out)
    pixels = bundle.normalize(bundle.images(_photos(colour_data, tmp_path)))
    values = dict(zip(names, session.run(names, {"pixels": pixels.numpy().astype("float32")})))
    logits = torch.from_numpy(values["logits"])
    assert torch.allclose(torch.from_numpy(values["probabilities"]), (logits / 2.0).softmax(-1), atol=1e-5)
    assert not torch.allclose(torch.from_numpy(values["probabilities"]), logits.softmax(-1), atol=1e-3)
    metadata = {p.key: p.value for p in onnx.load(str(out / "model.onnx")).metadata_props}
    assert float(metadata["temperature"]) == 2.0 and metadata["calibrated"] == "true"

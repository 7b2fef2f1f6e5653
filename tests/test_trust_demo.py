"""Trust in each prediction, measured on the demo: a short FLYP run of the shipped demo model on a
small copy of the demo task, shown images of none of its 12 shapes (the world's scenes with their
object left out, and scikit-learn's handwritten digits)."""

from __future__ import annotations

import csv
import dataclasses
import json

import pytest

from cli_helpers import run_cli
from core.demo import probes
from core.demo.task import write_demo_data

FOREIGN = 40  # images of each foreign kind
PAIRS = probes.shape_pairs((5,))  # 12 pictures of two shapes side by side, each shape once per side


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """{"run", "val", "scenes", "digits"}: a 1-epoch FLYP run of the demo model on 15 photos per class."""
    from core.demo.story import demo_paths, demo_train_config
    from core.training.loop import train

    root = tmp_path_factory.mktemp("trust-demo")
    write_demo_data(root / "data", train_per_class=15, val_per_class=8, ood_per_class=2)
    probes.write_foreign_folder(root / "scenes", count=FOREIGN)
    digits = probes.write_digit_folders(root / "digits", per_class=FOREIGN // 10 * 5)["val"]
    config = demo_train_config(demo_paths(root / "data"), "flyp", seed=0, device="cpu")
    train(dataclasses.replace(config, epochs=1, batch_size=30), root / "run")
    return {"run": root / "run", "val": root / "data" / "val", "scenes": root / "scenes", "digits": digits,
            "root": root}


def _predict(capsys, source, *paths, extra=()):
    code, out, err = run_cli(capsys, "predict", source, *paths, "--json", *extra)
    assert code == 0, err
    return json.loads(out)["predictions"]


def test_images_of_none_of_the_classes_are_turned_away_and_the_demo_photos_kept(capsys, demo):
    photos = _predict(capsys, demo["run"], demo["val"])
    assert all(isinstance(p["known"], bool) and isinstance(p["novelty"], float) for p in photos)
    kept = sum(p["known"] for p in photos) / len(photos)
    assert kept >= 0.85  # the threshold keeps 95% of the run's validation photos (these very ones)
    for kind in ("scenes", "digits"):
        foreign = _predict(capsys, demo["run"], demo[kind])
        accepted = sum(p["known"] for p in foreign) / len(foreign)
        assert len(foreign) >= FOREIGN and accepted <= 0.20, (kind, accepted)  # the bar


def test_the_exported_bundle_and_its_onnx_model_say_the_same(capsys, demo, tmp_path):
    import torch

    from core.export.bundle import load_bundle
    from core.export.onnx_model import onnx_outputs
    from core.labelling.classify import image_files

    out = tmp_path / "bundle"
    code, stdout, err = run_cli(capsys, "export", "--run", demo["run"], "--alpha", "1", "--out", out, "--onnx", "--json")
    assert code == 0, err
    report = json.loads(stdout)
    assert report["novelty_max_difference"] < 1e-3 and report["onnx_novelty_max_difference"] < 1e-3
    info = json.loads((out / "flyp.json").read_text())
    assert info["novelty"]["method"] == "mahalanobis" and (out / "novelty.safetensors").is_file()
    # Calibration: T fitted on validation, the error of every set in run.json, flyp.json and the card.
    from core.training.runs import RunDir

    kept = RunDir(demo["run"]).read_info()["calibration"]
    assert kept == info["calibration"] and set(kept["sets"]) == {"id", "ood-sketch", "ood-painting"}
    assert 0.05 < kept["temperature"] < 20
    for s in kept["sets"].values():
        assert 0 <= s["calibration_error_calibrated"] <= 1 and "calibration_error_with_novelty" in s
    card = (out / "README.md").read_text()
    assert "How far the confidence can be trusted" in card and "None of these classes" in card
    from core.export.card import set_name

    for name, s in kept["sets"].items():  # per set: known share and coverage, as measured
        assert 0 <= s["known"] <= 1 and [r["threshold"] for r in s["coverage"]] == pytest.approx([0.5, 0.7, 0.9])
        row = next(line for line in card.splitlines() if line.startswith(f"| {set_name(name)} | ") and "%," in line)
        shown = s["coverage_with_novelty"]  # as the bundle predicts: less sure of unusual images
        assert [r["threshold"] for r in shown] == pytest.approx([0.5, 0.7, 0.9])
        assert all(f"{r['coverage']:.0%}, {r['accuracy']:.1%}" in row for r in shown if r["accuracy"])
        assert f"| {s['known']:.1%} |" in card
    assert kept["sets"]["id"]["known"] >= 0.85  # the novelty threshold keeps 95% of validation
    files = image_files([demo["val"]])[:6] + image_files([demo["digits"]])[:6]
    from_run = {p["path"]: p for p in _predict(capsys, demo["run"], *files)}
    from_bundle = {p["path"]: p for p in _predict(capsys, out, *files)}
    assert {k: p["known"] for k, p in from_bundle.items()} == {k: p["known"] for k, p in from_run.items()}
    for key, p in from_bundle.items():
        assert p["novelty"] == pytest.approx(from_run[key]["novelty"], rel=1e-3)
    bundle = load_bundle(out)
    outputs = onnx_outputs(out / "model.onnx", bundle.normalize(bundle.images(files)))
    assert [bool(k) for k in outputs["known"]] == [from_bundle[str(f)]["known"] for f in files]
    assert sum(not from_bundle[str(f)]["known"] for f in files[6:]) >= 5  # the digits: none of these
    # Less sure of unusual images, alike in the run, the bundle and its ONNX model (`core.trust.lowering`).
    factors = info["novelty"]["lowering"]["factors"]
    assert factors == sorted(factors) and factors[0] > 0
    assert factors[-1] > 1  # its most novel validation photos are wrong more often than their confidence says
    for key, p in from_bundle.items():
        assert p["confidence"] == pytest.approx(from_run[key]["confidence"], rel=1e-3)
        assert p["confidence_lowered_by"] == pytest.approx(from_run[key]["confidence_lowered_by"], abs=1e-3)
    digits = [from_bundle[str(f)] for f in files[6:]]
    assert all(p["confidence_lowered_by"] > 0 for p in digits)  # beyond every validation photo: the last band
    assert report["max_lowered_difference"] < 1e-3 and report["onnx_max_calibrated_difference"] < 1e-3
    lowered = bundle.probabilities(bundle.images(files[6:]))
    assert float((outputs["probabilities"][6:] - lowered).abs().max()) < 1e-4
    assert [p["confidence"] for p in digits] == pytest.approx(lowered.max(-1).values.tolist(), abs=1e-5)
    from core.weights.session import BlendSession  # Try: the run at the bundle's α, its novelty score

    probs, _ = BlendSession.open(demo["run"], "cpu").predict(1.0, list(bundle.images(files[6:])), bundle.novelty)
    assert float((torch.tensor(probs) - lowered).abs().max()) < 1e-4


def test_a_bundle_without_the_lowering_predicts_as_before_and_a_damaged_one_is_named(capsys, demo, tmp_path):
    import shutil

    import torch

    from core.export.bundle import load_bundle
    from core.labelling.classify import image_files

    out = tmp_path / "bundle"
    code, _, err = run_cli(capsys, "export", "--run", demo["run"], "--alpha", "1", "--out", out, "--json")
    assert code == 0, err
    older = tmp_path / "older"
    shutil.copytree(out, older)
    info = json.loads((older / "flyp.json").read_text())
    del info["novelty"]["lowering"]  # as bundles were written before it existed
    (older / "flyp.json").write_text(json.dumps(info))
    files = image_files([demo["digits"]])[:6]
    bundle = load_bundle(older)
    by_hand = (bundle.logits(bundle.images(files)) / bundle.temperature).softmax(-1).max(-1).values
    predicted = _predict(capsys, older, *files)
    assert [p["confidence"] for p in predicted] == pytest.approx(by_hand.tolist(), abs=1e-6)
    assert all(p["confidence_lowered_by"] is None for p in predicted)
    lowered = _predict(capsys, out, *files)
    assert all(a["confidence"] < b["confidence"] for a, b in zip(lowered, predicted))  # the same images, less sure
    assert [a["class"] for a in lowered] == [b["class"] for b in predicted]
    info["novelty"]["lowering"] = {"edges": [0.5], "factors": [2.0, 1.0]}  # more sure of the more unusual
    (older / "flyp.json").write_text(json.dumps(info))
    code, _, err = run_cli(capsys, "predict", older, *files)
    assert code != 0 and str(older / "flyp.json") in err and "lowering" in err
    assert len(err.strip().splitlines()) == 1, err
    assert torch.isfinite(by_hand).all()


def test_the_csv_says_known_after_confidence_and_sorting_puts_the_unknown_apart(capsys, demo, tmp_path):
    mixed = tmp_path / "new"
    for kind in ("scenes", "val"):
        for i, path in enumerate(sorted(demo[kind].rglob("*.png"))[:10]):
            (mixed / f"{kind}-{i}.png").parent.mkdir(exist_ok=True)
            (mixed / f"{kind}-{i}.png").write_bytes(path.read_bytes())
    code, _, err = run_cli(capsys, "predict", demo["run"], mixed, "--csv", tmp_path / "out.csv",
                           "--sort-into", tmp_path / "sorted", "--min-confidence", "0")
    assert code == 0, err
    with open(tmp_path / "out.csv", newline="") as f:
        header, *rows = list(csv.reader(f))
    assert header[:5] == ["path", "class", "confidence", "known", "novelty"]
    unknown = {r[0].rsplit("/", 1)[-1] for r in rows if r[3] == "false"}
    assert {p.name for p in (tmp_path / "sorted" / "_unknown").iterdir()} == unknown
    assert sum(name.startswith("scenes") for name in unknown) >= 8 and sum(n.startswith("val") for n in unknown) <= 2


def _on(mask, peak, margin: int = 2) -> bool:
    import numpy as np

    m = np.asarray(mask) > 127
    x, y = peak
    return bool(m[max(0, y - margin):y + margin + 1, max(0, x - margin):x + margin + 1].any())


def test_the_heat_map_peaks_on_the_object_of_correctly_classified_photos(capsys, demo, tmp_path):
    from core.demo.task import DEMO_CLASSES

    files = [demo["val"] / name / f"{i:04d}.png" for name in DEMO_CLASSES for i in range(8)]
    code, out, err = run_cli(capsys, "explain", demo["run"], *files, "--out", tmp_path / "maps", "--json")
    assert code == 0, err
    results = json.loads(out)
    assert [r["path"] for r in results] == [str(f) for f in files]
    right = [(r, f) for r, f in zip(results, files) if r["class"] == f.parent.name]
    assert len(right) >= 24
    on_object = sum(_on(probes.located_split_image(0, "val", f.parent.name, int(f.stem)).object, r["peak"])
                    for r, f in right)
    assert on_object >= 0.7 * len(right), (on_object, len(right))  # the bar
    from PIL import Image

    assert Image.open(results[0]["map"]).size == (64, 64)


def test_naming_a_class_moves_the_peak_to_that_object(capsys, demo, tmp_path):
    files, peaks = [], {}
    for seed, (left, right) in enumerate(PAIRS):
        image, left_mask, right_mask = probes.side_by_side(left, right, seed=seed)
        image.save(tmp_path / f"pair-{seed}.png")
        files.append((tmp_path / f"pair-{seed}.png", left_mask, right_mask))
    for name in sorted({shape for pair in PAIRS for shape in pair}):  # one run per class, on its two pictures
        chosen = [f for (f, _, _), pair in zip(files, PAIRS) if name in pair]
        code, out, err = run_cli(capsys, "explain", demo["run"], *chosen, "--out", tmp_path / name,
                                 "--class", name, "--json")
        assert code == 0, err
        for f, result in zip(chosen, json.loads(out)):
            assert result["class"] == name
            peaks[f.name, name] = result["peak"]
    moved = [_on(left_mask, peaks[f.name, left]) and _on(right_mask, peaks[f.name, right])
             for (f, left_mask, right_mask), (left, right) in zip(files, PAIRS)]
    assert sum(moved) >= 2 / 3 * len(PAIRS), [pair for pair, m in zip(PAIRS, moved) if not m]
    code, _, err = run_cli(capsys, "explain", demo["run"], files[0][0], "--out", tmp_path / "x", "--class", "banana")
    assert code == 2 and "banana" in err and "Traceback" not in err

"""`flyp predict` on folders: batched, a CSV with a row per image, sorting into class folders."""

from __future__ import annotations

import csv
import json
import os
import shutil

import pytest
import torch

from cli_helpers import assert_one_line_error, run_cli


@pytest.fixture
def photos(colour_data, tmp_path):
    """A folder of new images at two depths, with a file that is not an image and an empty one."""
    folder = tmp_path / "photos"
    (folder / "day 2").mkdir(parents=True)
    for colour in ("red", "green", "blue"):
        for src in sorted((colour_data["val"] / colour).glob("*.png"))[:2]:
            shutil.copy(src, folder / ("day 2" if colour == "blue" else ".") / src.name)
    (folder / "empty.png").write_bytes(b"")
    (folder / "truncated.png").write_bytes((colour_data["val"] / "red" / "red_000.png").read_bytes()[:60])
    return folder


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_csv_has_a_row_per_image_with_classes_confidences_or_the_reason(capsys, flyp_bundle, photos, tmp_path):
    out = tmp_path / "out" / "result.csv"
    code, stdout, err = run_cli(capsys, "predict", flyp_bundle, photos, "--csv", out, "--top-k", "2",
                                "--batch-size", "3", "--json")
    assert code == 2  # two images were skipped: each is named on stderr
    assert sum(line.startswith("flyp: error: ") for line in err.splitlines()) == 2
    header, *rows = read_csv(out)
    assert header == ["path", "class", "confidence", "known", "novelty", "class_2", "confidence_2", "skipped"]
    assert len(rows) == 8 and [r[0] for r in rows] == sorted(r[0] for r in rows)
    by_name = {os.path.basename(r[0]): r for r in rows}
    assert "empty file (0 bytes)" in by_name["empty.png"][-1] and by_name["empty.png"][1] == ""
    assert "truncated" in by_name["truncated.png"][-1]
    good = [r for r in rows if not r[-1]]
    assert len(good) == 6
    for row in good:
        assert row[1] in {"red", "green", "blue"} and row[5] in {"red", "green", "blue"} - {row[1]}
        assert 0 <= float(row[6]) <= float(row[2]) <= 1 and float(row[2]) + float(row[6]) <= 1 + 1e-6
    report = json.loads(stdout)
    assert {p["path"]: p["class"] for p in report["predictions"]} == {r[0]: r[1] for r in good}
    # The bundle's novelty verdict, the same in both: images like the training ones are known.
    assert {p["path"]: (str(p["known"]).lower(), f"{p['novelty']:.6g}") for p in report["predictions"]} == {
        r[0]: (r[3], r[4]) for r in good}
    assert sum(r[3] == "true" for r in good) >= 5
    assert sum(os.path.basename(r[0]).startswith(r[1]) for r in good) >= 5  # red_000.png: a red image


@pytest.mark.parametrize("beside", [True, False], ids=["decoding beside the model", "decoding, then the model"])
def test_batches_give_the_answers_of_one_image_at_a_time(flyp_bundle, photos, beside, monkeypatch):
    from PIL import Image

    from core.export.bundle import load_bundle
    from core.labelling.classify import classify_files, image_files
    from core.labelling.predictor import from_bundle
    from core.model import feature_cache

    monkeypatch.setattr(feature_cache, "_decode_beside_model", lambda encoder: beside)
    for source in sorted(photos.glob("*_00*.png"))[:2]:  # large photos: decoded on the fast path
        Image.open(source).resize((1200, 900), Image.Resampling.BICUBIC).save(photos / f"{source.stem}-large.jpg")
    bundle = load_bundle(flyp_bundle)
    files = [f for f in image_files([photos]) if f.stat().st_size > 100]
    batched = [p for batch in classify_files(files, from_bundle(bundle), top_k=3, batch_size=4) for p in batch]
    assert [p.path for p in batched] == files and not any(p.reason for p in batched)
    for prediction, path in zip(batched, files):
        single = bundle.predict([path], 3)[0]
        assert [c for c, _ in prediction.top] == [c for c, _ in single]
        assert prediction.confidence == pytest.approx(single[0][1], abs=1e-5)


def test_sort_into_copies_by_class_and_the_uncertain_apart(capsys, flyp_run, photos, tmp_path):
    sorted_dir = tmp_path / "sorted"
    (sorted_dir / "red").mkdir(parents=True)
    (sorted_dir / "red" / "red_000.png").write_bytes(b"already here")
    code, stdout, _ = run_cli(capsys, "predict", flyp_run, photos, "--alpha", "0.8", "--sort-into", sorted_dir,
                              "--min-confidence", "0.9", "--csv", tmp_path / "r.csv", "--json")
    assert code == 2  # the two unusable files
    rows = {r[0]: r for r in read_csv(tmp_path / "r.csv")[1:]}
    copied = {p.name: p.parent.name for p in sorted_dir.rglob("*.png") if p.read_bytes() != b"already here"}
    assert len(copied) == 6 and (sorted_dir / "red" / "red_000.png").read_bytes() == b"already here"
    for path, row in rows.items():
        if row[-1]:
            continue
        name = os.path.basename(path)
        folder = copied.get(name) or copied.get(name.replace(".png", " (2).png"))
        expected = "_unknown" if row[3] == "false" else row[1] if float(row[2]) >= 0.9 else "_uncertain"
        assert folder == expected, (row, folder)
    report = json.loads(stdout)
    assert "α = 0.80" in report["model"] and sum(report["sorted"]["copied"].values()) == 6


def test_a_destination_that_cannot_be_written_stops_before_any_work(capsys, flyp_bundle, photos, tmp_path,
                                                                    monkeypatch):
    from core.labelling import files

    read_only = tmp_path / "read-only"
    read_only.mkdir()
    if os.geteuid() != 0:
        read_only.chmod(0o555)
    else:  # root writes anywhere: the file system's refusal is simulated
        real = files.tempfile.mkstemp

        def refuse(*args, dir=None, **kwargs):
            if str(dir).startswith(str(read_only)):
                raise PermissionError(13, "Permission denied")
            return real(*args, dir=dir, **kwargs)
        monkeypatch.setattr(files.tempfile, "mkstemp", refuse)
    classified = []
    monkeypatch.setattr("core.labelling.classify.classify_files", lambda *a, **k: classified.append(1) or iter(()))
    for option in (["--sort-into", read_only / "sorted"], ["--csv", read_only / "out.csv"]):
        code, _, err = run_cli(capsys, "predict", flyp_bundle, photos, *option)
        assert_one_line_error(code, err, str(read_only), "cannot write there", "permission denied")
    assert not classified and not list(read_only.iterdir())


@pytest.mark.parametrize("args, words", [
    (["--alpha", "0.5"], ["--alpha", "is a bundle", "run folder"]),
    (["--min-confidence", "1.5"], ["--min-confidence", "from 0 to 1"]),
    (["--batch-size", "0"], ["--batch-size", "from 1 to 65536"]),
])
def test_bad_options_are_one_line(capsys, flyp_bundle, photos, args, words):
    code, _, err = run_cli(capsys, "predict", flyp_bundle, photos, *args)
    assert_one_line_error(code, err, *words)


def test_a_bundle_of_a_convolutional_tower_predicts_what_its_run_predicts(colour_data, photos, tmp_path):
    import open_clip
    from conftest import tiny_config

    from core.export.bundle import load_bundle
    from core.export.write import export_bundle, measure_for_export
    from core.labelling.classify import classify_files, image_files
    from core.labelling.predictor import from_bundle, open_predictor
    from core.training.loop import train
    from core.weights.blend import open_run, run_eval_sets

    config = tmp_path / "flyp-tiny-resnet.json"  # CLIP's ResNet design, tiny (BatchNorm, pooling)
    config.write_text(json.dumps({"embed_dim": 64, "vision_cfg": {"image_size": 32, "layers": [1, 1, 1, 1], "width": 16},
                                  "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 64, "heads": 2,
                                               "layers": 2}}))
    open_clip.add_model_config(config)
    run = tmp_path / "resnet-run"
    train(tiny_config(colour_data, model="flyp-tiny-resnet", epochs=1), run)
    blended = open_run(run)  # exported as the app and `flyp export` do: with its novelty score and calibration
    novelty, calibration = measure_for_export(run, blended, run_eval_sets(blended.info))
    export_bundle(blended, tmp_path / "bundle", novelty=novelty, calibration=calibration)  # compares itself with the run
    bundle = load_bundle(tmp_path / "bundle")
    assert bundle.model.visual.conv1.weight.is_contiguous(memory_format=torch.channels_last)  # the fast layout
    files = [f for f in image_files([photos]) if f.stat().st_size > 100]
    from_run = [p for batch in classify_files(files, open_predictor(run, 1.0)) for p in batch]
    batched = [p for batch in classify_files(files, from_bundle(bundle), batch_size=4) for p in batch]
    for a, b in zip(from_run, batched):
        assert a.label == b.label and a.confidence == pytest.approx(b.confidence, abs=1e-5)

"""Scanning folders: broken files are reported with reasons and the scan keeps going."""

import os

import pytest
from PIL import Image

from core.data.folders import load_datasets, scan_folder, stratified_split
from core.errors import FlypError
from conftest import write_class_folders


def test_scan_reports_broken_files_and_keeps_going(tmp_path):
    root = write_class_folders(tmp_path / "d", 3, seed=0)
    (root / "red" / "empty.png").write_bytes(b"")
    (root / "red" / "notes.jpg").write_text("this is not an image")
    good = (root / "green" / "green_000.png").read_bytes()
    (root / "green" / "cut.png").write_bytes(good[: len(good) // 2])
    (root / "blue" / "readme.txt").write_text("hello")
    (root / "stray.png").write_bytes(good)
    (root / "blue" / ".DS_Store").write_bytes(b"\0\0")
    report = scan_folder(root)
    reasons = {os.path.basename(p.path): p.reason for p in report.skipped}
    assert reasons["empty.png"] == "empty file (0 bytes)"
    assert "not an image" in reasons["notes.jpg"]
    assert "truncated" in reasons["cut.png"] or "unreadable" in reasons["cut.png"]
    assert "not an image file (.txt)" == reasons["readme.txt"]
    assert reasons["stray.png"] == "not inside a class folder"
    assert ".DS_Store" not in reasons
    assert report.counts() == {"blue": 3, "green": 3, "red": 3}


def test_nested_folders_and_image_modes_are_read(tmp_path):
    root = write_class_folders(tmp_path / "d", 2, seed=0, classes=("red", "blue"))
    nested = root / "red" / "site A" / "day 2"
    nested.mkdir(parents=True)
    Image.new("L", (20, 20), 128).save(nested / "grey.png")
    Image.new("CMYK", (20, 20), (0, 50, 50, 0)).save(nested / "cmyk.jpg")
    Image.new("I;16", (20, 20), 40000).save(nested / "deep.png")
    Image.new("RGBA", (20, 20), (255, 0, 0, 128)).save(nested / "alpha.webp")
    Image.new("P", (20, 20)).save(nested / "palette.bmp")
    Image.new("RGB", (20, 20)).save(nested / "img.tiff")
    report = scan_folder(root)
    assert report.skipped == []
    assert report.counts() == {"blue": 2, "red": 8}


def test_fewer_than_two_classes_is_an_error_naming_the_folder(tmp_path):
    root = write_class_folders(tmp_path / "one", 3, seed=0, classes=("red",))
    (root / "empty class").mkdir()
    report = scan_folder(root)
    with pytest.raises(FlypError, match=str(root)):
        report.check_usable()
    assert any("no usable images" in w.reason for w in report.warnings)
    with pytest.raises(FlypError, match="no such folder"):
        scan_folder(tmp_path / "missing")


def test_stratified_split_is_seeded_and_keeps_every_class(tmp_path):
    root = write_class_folders(tmp_path / "d", 10, seed=0)
    samples = scan_folder(root).samples
    train1, val1 = stratified_split(samples, 0.2, seed=7)
    train2, val2 = stratified_split(samples, 0.2, seed=7)
    _, val3 = stratified_split(samples, 0.2, seed=8)
    assert val1 == val2 and val1 != val3
    assert sorted(s.label for s in val1) == [0, 0, 1, 1, 2, 2]
    assert not {s.path for s in train1} & {s.path for s in val1}


def test_eval_folders_match_classes_by_name(tmp_path):
    train = write_class_folders(tmp_path / "train", 4, seed=0)
    ood = write_class_folders(tmp_path / "ood", 2, seed=1, classes=("blue", "red"))
    (ood / "purple").mkdir()
    Image.new("RGB", (20, 20)).save(ood / "purple" / "x.png")
    data = load_datasets(train, None, [ood], seed=0)
    assert data.classes == ["blue", "green", "red"]
    assert sorted({s.label for s in data.ood["ood"]}) == [0, 2]
    reasons = " ".join(p.reason for p in data.problems)
    assert "'purple' is not a training class" in reasons
    assert "no images for class(es) 'green'" in reasons


def test_duplicates_between_train_and_validation_are_reported(tmp_path):
    train = write_class_folders(tmp_path / "train", 3, seed=0)
    val = write_class_folders(tmp_path / "val", 3, seed=5)
    (val / "red" / "copy.png").write_bytes((train / "red" / "red_001.png").read_bytes())
    data = load_datasets(train, val)
    assert any("same image as" in p.reason and p.path.endswith("copy.png") for p in data.problems)

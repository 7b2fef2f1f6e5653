"""Bad input: every file of the corpus (tests/corpus.py) is used, skipped with a reason, or
ignored, as documented; the `flyp` verbs answer with one line naming the file, never a traceback."""

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from corpus import BLUE, RED, WHITE, build_corpus
from cli_helpers import assert_one_line_error, run_cli
from core.data.folders import load_datasets, scan_folder
from core.data.images import load_rgb

AS_ROOT = getattr(os, "geteuid", lambda: -1)() == 0


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture
def locked(corpus, monkeypatch):
    """The corpus's chmod-000 file. Root reads it anyway, so there its read fails as it would
    for anyone else: PermissionError from the same call."""
    target = corpus.train / corpus.unreadable
    if AS_ROOT:
        open_file = os.open

        def refuse(path, *args, **kwargs):
            if Path(path) == target:
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return open_file(path, *args, **kwargs)
        monkeypatch.setattr(os, "open", refuse)
    return target


def shown(path) -> str:
    """How the command line prints a path: bytes that are not UTF-8 as \\udcXX escapes."""
    return str(path).encode("utf-8", "backslashreplace").decode("utf-8")


def relative(report_paths, root):
    return {os.path.relpath(p, root) for p in report_paths}


def test_scan_uses_every_readable_image_and_skips_every_broken_one_with_its_reason(corpus, locked):
    report = scan_folder(corpus.train)
    used = {os.path.relpath(s.path, corpus.train): report.classes[s.label] for s in report.samples}
    assert used == corpus.used
    reasons = {os.path.relpath(p.path, corpus.train): p.reason for p in report.skipped}
    assert set(reasons) == set(corpus.skipped)
    for name, words in corpus.skipped.items():
        assert words in reasons[name], (name, reasons[name])
    mentioned = relative([p.path for p in report.skipped + report.warnings], corpus.train)
    assert not mentioned & set(corpus.ignored)
    assert [w.reason for w in report.warnings] == ["class folder 'empty' has no usable images; left out"]


def test_unusual_images_are_converted_to_upright_rgb(corpus):
    def load(name):
        image = load_rgb(corpus.train / "cat" / name)
        assert image.mode == "RGB"
        return image

    rotated = load("exif-rotated.jpg")  # stored 40×20, red left: upright it is 20×40, red on top
    assert rotated.size == (20, 40)
    assert near(rotated.getpixel((10, 5)), RED) and near(rotated.getpixel((10, 34)), BLUE)
    ramp = load("16-bit.png")  # 0 … 32767 of 65535: a dark ramp stays dark, it is not stretched
    assert ramp.getpixel((0, 0)) == (0, 0, 0) and abs(ramp.getpixel((31, 0))[0] - 127) <= 1
    palette = load("palette with transparency.png")
    assert palette.getpixel((0, 0)) == WHITE and palette.getpixel((5, 5)) == RED
    assert near(load("cmyk.jpg").getpixel((5, 5)), (255, 0, 0))
    assert load("grey.jpg").getpixel((5, 5)) == (90, 90, 90)
    assert near(load("animated.gif").getpixel((5, 5)), RED)  # the first frame
    assert near(load("png-named.jpg").getpixel((5, 5)), RED) and near(load("jpeg-named.png").getpixel((5, 5)), RED)


def near(a, b, tolerance=12):
    return all(abs(x - y) <= tolerance for x, y in zip(a, b))


def test_an_unreadable_sub_folder_is_reported_and_the_rest_is_used(corpus, tmp_path, monkeypatch):
    import shutil

    root = tmp_path / "d"
    shutil.copytree(corpus.val, root)
    (root / "cat" / "locked").mkdir()
    shutil.copy(root / "cat" / "0.png", root / "cat" / "locked" / "0.png")
    os.chmod(root / "cat" / "locked", 0)
    if AS_ROOT:  # root lists it anyway: fail the listing as it would fail for anyone else
        scandir = os.scandir

        def refuse(path="."):
            if Path(path) == root / "cat" / "locked":
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return scandir(path)
        monkeypatch.setattr(os, "scandir", refuse)
    report = scan_folder(root)
    os.chmod(root / "cat" / "locked", 0o755)
    assert [(p.path, p.reason) for p in report.skipped] == [
        (str(root / "cat" / "locked"), "folder cannot be read (Permission denied)")]
    assert report.counts() == {"cat": 4, "dog": 3}


def test_evaluation_folders_report_duplicates_and_unknown_classes(corpus, locked):
    data = load_datasets(corpus.train, corpus.val, [corpus.ood])
    reasons = {os.path.relpath(p.path, corpus.root): p.reason for p in data.problems}
    assert reasons["val/cat/copy of cat_0.png"] == (f"same image as {corpus.train / 'cat' / 'cat_0.png'} in the training folder; "
                                                   "left out of validation")
    assert corpus.val / "cat" / "copy of cat_0.png" not in {s.path for s in data.val}
    assert "'zebra' is not a training class" in reasons["ood/zebra"]
    assert len(data.ood["ood"]) == 6  # cat and dog; zebra's images are left out


def test_the_automatic_split_reports_an_image_that_lands_in_both_halves(tmp_path, corpus):
    import shutil

    root = tmp_path / "d"
    shutil.copytree(corpus.val, root)
    for i in range(4):  # the same picture five times: some copies must land in validation
        shutil.copy(root / "cat" / "0.png", root / "cat" / f"again {i}.png")
    data = load_datasets(root, val_fraction=0.5)
    duplicates = [p for p in data.problems if "which the split put in training" in p.reason]
    copies = {Path(p.path) for p in duplicates}
    assert copies and copies <= {s.path for s in data.train}  # trained on with the original, never validated
    assert not copies & {s.path for s in data.val}


# The command line ----------------------------------------------------------------------------



def test_flyp_scan_prints_every_problem_on_its_own_line(corpus):
    """As a real process with a strict UTF-8 stdout (a desktop's locale), although a few file
    names are not valid UTF-8."""
    result = subprocess.run([sys.executable, "-m", "core.cli", "scan", str(corpus.train)], capture_output=True,
                            text=True, errors="surrogateescape", env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{corpus.train}: {len(corpus.used) + AS_ROOT} images in 2 classes"
    for name, words in corpus.skipped.items():
        if name != corpus.unreadable or not AS_ROOT:
            assert any(line.startswith(f"  {shown(corpus.train / name)}: ") and words in line for line in lines), name
    for name in corpus.ignored:
        assert name not in result.stdout


def test_flyp_scan_json_names_files_exactly_even_when_not_utf8(corpus, capsys, locked):
    code, out, _ = run_cli(capsys, "scan", corpus.train, "--json")
    data = json.loads(out)
    assert code == 0 and data["usable"] and data["images"] == len(corpus.used)
    assert relative([p["path"] for p in data["skipped"]], corpus.train) == set(corpus.skipped)
    if os.name == "posix":  # the path in the JSON gives back the file's very bytes
        assert os.fsencode(corpus.train / "cat" / os.fsdecode(b"broken-\xe9.jpg")) in {
            os.fsencode(p["path"]) for p in data["skipped"]}


@pytest.mark.parametrize("folder, words", [
    ("single", ["single", "at least two class folders", "only 'cat'"]),
    ("train/empty", ["empty", "at least two class folders", "found none"]),
])
def test_flyp_scan_of_an_unusable_folder_exits_2(corpus, capsys, folder, words):
    code, _, err = run_cli(capsys, "scan", corpus.root / folder)
    assert_one_line_error(code, err, *words)


ZEROSHOT = ["zeroshot", "--model", "flyp-tiny", "--pretrained", "none"]


def test_flyp_zeroshot_evaluates_the_usable_images_and_lists_the_skipped(corpus, capsys, locked):
    code, out, err = run_cli(capsys, *ZEROSHOT, "--data", corpus.train, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["n"] == len(corpus.used)
    assert relative([p["path"] for p in data["skipped"]], corpus.train) == set(corpus.skipped)


@pytest.mark.parametrize("extra, words", [
    (["--data", "{root}/nameless"], ["'___'", "no class name", "--class-names"]),
    (["--data", "{root}/val", "--templates", "{root}/templates/no-placeholder.txt"],
     ["no-placeholder.txt", "template 2", "no {} placeholder"]),
    (["--data", "{root}/val", "--templates", "{root}/templates/stray-brace.txt"],
     ["stray-brace.txt", "template 1", "stray brace"]),
    (["--data", "{root}/single"], ["single", "at least two class folders"]),
])
def test_flyp_zeroshot_refuses_unusable_input_in_one_line(corpus, capsys, extra, words):
    code, _, err = run_cli(capsys, *ZEROSHOT, *[a.format(root=corpus.root) for a in extra])
    assert_one_line_error(code, err, *words)


def test_flyp_train_runs_on_the_corpus_and_records_every_problem(corpus, capsys, locked, tmp_path):
    code, out, err = run_cli(capsys, "train", "--model", "flyp-tiny", "--pretrained", "none",
                             "--train", corpus.train, "--val", corpus.val, "--ood", corpus.ood,
                             "--epochs", "1", "--batch-size", "8", "--workers", "0", "--out", tmp_path / "run", "--json")
    assert code == 0 and "Traceback" not in err, err
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["status"] == "finished" and info["data"]["train"] == len(corpus.used)
    problems = {os.path.relpath(p["path"], corpus.root) for p in info["data"]["problems"]}
    assert {f"train/{name}" for name in corpus.skipped} | {"val/cat/copy of cat_0.png", "ood/zebra"} <= problems


def test_flyp_train_on_one_class_exits_2(corpus, capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "--model", "flyp-tiny", "--pretrained", "none",
                           "--train", corpus.single, "--out", tmp_path / "run")
    assert_one_line_error(code, err, "single", "at least two class folders")
    assert not (tmp_path / "run").exists()


def test_flyp_predict_names_each_unusable_image_on_its_own_line(corpus, capsys, flyp_bundle):
    code, out, err = run_cli(capsys, "predict", flyp_bundle, corpus.train / "cat", "--json")
    assert code == 2 and "Traceback" not in err
    predicted = relative([p["path"] for p in json.loads(out)["predictions"]], corpus.train)
    assert predicted >= {name for name in corpus.used if name.startswith("cat/")}
    errors = [line for line in err.splitlines() if line.startswith("flyp: error: ")]
    broken = [name for name in corpus.skipped if Path(name).suffix in (".jpg", ".png") and "link" not in corpus.skipped[name]
              and name != corpus.unreadable]
    assert len(errors) == len(broken)
    for name in broken:
        assert any(line.startswith(f"flyp: error: {shown(corpus.train / name)}: ") for line in errors), name


def test_float_images_with_nan_or_infinite_pixels_are_scaled_on_their_finite_values(tmp_path):
    import warnings

    import numpy as np
    from PIL import Image

    from core.errors import FlypError

    ramp = np.tile(np.linspace(0, 1000, 32, dtype="float32"), (32, 1))
    ramp[0, 0], ramp[1, 1], ramp[2, 2] = np.nan, np.inf, -np.inf
    Image.fromarray(ramp, "F").save(tmp_path / "ramp.tif")
    Image.fromarray(np.full((8, 8), np.nan, "float32"), "F").save(tmp_path / "all-nan.tif")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy warning reaches the user
        image = np.asarray(load_rgb(tmp_path / "ramp.tif"))[..., 0]
        with pytest.raises(FlypError, match="all-nan.tif: unreadable image .no finite pixel values"):
            load_rgb(tmp_path / "all-nan.tif")
    assert image[5, 31] == 255 and image[5, 0] == 0 and 120 <= image[5, 16] <= 135  # not a black image
    assert (image[0, 0], image[1, 1], image[2, 2]) == (0, 255, 0)  # NaN black, ±inf the extremes


def test_a_file_problem_carries_its_path_and_reason_as_fields(tmp_path):
    import pickle

    from core.data.images import read_image_bytes
    from core.errors import FileError

    empty = tmp_path / "cat" / "taken at 10: 30.png"  # a name with ": " in it
    empty.parent.mkdir()
    empty.write_bytes(b"")
    with pytest.raises(FileError) as caught:
        read_image_bytes(empty)
    assert (caught.value.path, caught.value.reason) == (str(empty), "empty file (0 bytes)")
    assert str(caught.value) == f"{empty}: empty file (0 bytes)"
    assert pickle.loads(pickle.dumps(caught.value)).reason == "empty file (0 bytes)"  # crosses worker processes
    from PIL import Image

    Image.new("RGB", (32, 32), RED).save(tmp_path / "cat" / "fine.png")
    scan = scan_folder(tmp_path)
    assert [(p.path, p.reason) for p in scan.skipped] == [(str(empty), "empty file (0 bytes)")]

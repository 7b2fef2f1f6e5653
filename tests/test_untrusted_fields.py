"""Untrusted fields: every field of a run's run.json, a bundle's flyp.json and class head, a
project file and a feature-cache shard is checked on load; a wrong one is one line naming the
file and the field (exit 2), never a TypeError, NaN predictions or a crash later."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from cli_helpers import assert_one_line_error, run_cli


@pytest.fixture
def run(flyp_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(flyp_run, copy)
    return copy


def edit_json(file, change):
    data = json.loads(file.read_text())
    change(data)
    file.write_text(json.dumps(data))


RUN_DAMAGE = [
    ("class_names", lambda d: d.update(class_names=None)),
    ("classes", lambda d: d.update(classes="red")),
    ("class_names", lambda d: d.update(class_names=d["class_names"][:1])),
    ("templates", lambda d: d.update(templates=7)),
    ("model.spec", lambda d: d["model"].update(spec=3)),
    ("val_dir", lambda d: d["config"].update(val_dir=5)),
    ("model.preprocess.size", lambda d: d["model"]["preprocess"].update(size="224")),
    ("model.preprocess.std", lambda d: d["model"]["preprocess"].update(std=[0, 0, 0])),
    ("model.preprocess.interpolation", lambda d: d["model"]["preprocess"].update(interpolation="bogus")),
    ("epochs", lambda d: d["config"].update(epochs=10**12)),
    ("seed", lambda d: d["config"].update(seed=2**70)),
    ("model.model_cfg", lambda d: d["model"].update(model_cfg=[1, 2])),
    ("model.model_cfg.embed_dim", lambda d: d["model"]["model_cfg"].update(embed_dim="64")),
    ("model.model_cfg.embed_dim", lambda d: d["model"]["model_cfg"].pop("embed_dim")),
    ("model.model_cfg.vision_cfg", lambda d: d["model"]["model_cfg"].update(vision_cfg=7)),
    ("model.model_cfg.vision_cfg.width", lambda d: d["model"]["model_cfg"]["vision_cfg"].update(width=-64)),
    ("model.model_cfg.vision_cfg.layers", lambda d: d["model"]["model_cfg"]["vision_cfg"].update(layers=[3, "x"])),
    ("model.model_cfg.vision_cfg.image_size", lambda d: d["model"]["model_cfg"]["vision_cfg"].update(image_size=1e9)),
    ("model.model_cfg.text_cfg.heads", lambda d: d["model"]["model_cfg"]["text_cfg"].update(heads=True)),
    ("model.model_cfg.text_cfg.context_length", lambda d: d["model"]["model_cfg"]["text_cfg"].update(
        context_length=None)),
    ("model.model_cfg.text_cfg.hf_model_name", lambda d: d["model"]["model_cfg"]["text_cfg"].update(hf_model_name=5)),
    ("model.model_cfg.quick_gelu", lambda d: d["model"]["model_cfg"].update(quick_gelu="yes")),
    ("model.open_clip_name", lambda d: d["model"].update(open_clip_name=None)),
    ("model.open_clip_name", lambda d: d["model"].update(open_clip_name=" ")),
    ("model.open_clip_name", lambda d: d["model"].pop("open_clip_name")),
    ("best.step", lambda d: d["best"].update(step="12")),
    ("best.step", lambda d: d["best"].update(step=-1)),
    ("best.step", lambda d: d["best"].update(step=2.5)),
    ("best.id_accuracy", lambda d: d["best"].update(id_accuracy=1.5)),
    ("best.id_accuracy", lambda d: d["best"].update(id_accuracy="high")),
    ("best.id_accuracy", lambda d: d["best"].update(id_accuracy=None)),
    ("best.score", lambda d: d["best"].update(score=float("nan"))),
]


@pytest.mark.parametrize("field, damage", RUN_DAMAGE, ids=[f for f, _ in RUN_DAMAGE])
def test_a_run_json_field_of_the_wrong_type_or_range_is_named(run, capsys, field, damage):
    edit_json(run / "run.json", damage)
    before = (run / "run.json").read_bytes()
    code, _, err = run_cli(capsys, "blend", "--run", run, "--alphas", "0,1")
    assert_one_line_error(code, err, "run.json", field)
    assert (run / "run.json").read_bytes() == before


def test_a_class_list_edited_in_run_json_is_named_there_not_only_the_data_folder(run, colour_data, capsys):
    """run.json lists two of the three classes its training folder holds: blending names both
    run.json and the folder; predicting with the run never indexes past its two-class head."""
    edit_json(run / "run.json", lambda d: d.update(classes=d["classes"][:2], class_names=d["class_names"][:2]))
    code, _, err = run_cli(capsys, "blend", "--run", run, "--alphas", "0,1")
    assert_one_line_error(code, err, "run.json lists 'blue', 'green'", str(colour_data["train"]))
    image = next((colour_data["val"] / "red").iterdir())
    code, out, err = run_cli(capsys, "predict", run, image, "--json")
    assert code == 0 and "Traceback" not in err
    assert {row["class"] for row in json.loads(out)["predictions"][0]["top_k"]} <= {"blue", "green"}


def test_a_run_whose_training_folder_gained_a_class_predicts_its_own_with_novelty_and_says_so(
        run, colour_data, capsys, tmp_path):
    """A class folder added to the training folder after the run: `flyp predict` predicts over the
    run's three classes, still says whether each image is like them, and warns once (stderr, --json)."""
    import random

    from conftest import make_image

    train = shutil.copytree(colour_data["train"], tmp_path / "train")
    (train / "yellow").mkdir()
    rng = random.Random(5)
    for i in range(6):
        make_image((230, 220, 40), rng).save(train / "yellow" / f"yellow_{i}.png")
    edit_json(run / "run.json", lambda d: d["config"].update(train_dir=str(train)))
    image = next((colour_data["val"] / "red").iterdir())
    code, out, err = run_cli(capsys, "predict", run, image, "--json")
    assert code == 0 and "Traceback" not in err, err
    report = json.loads(out)
    changed = [w for w in report["warnings"] if "changed since" in w]  # the other: not calibrated (no α curve)
    assert len(changed) == 1 and "'yellow'" in changed[0], report["warnings"]
    prediction = report["predictions"][0]
    assert {row["class"] for row in prediction["top_k"]} <= {"red", "green", "blue"}
    assert isinstance(prediction["known"], bool) and isinstance(prediction["novelty"], float), prediction
    code, out, err = run_cli(capsys, "predict", run, image)
    warnings = [line for line in err.splitlines() if line.startswith("flyp: warning:") and "raw softmax" not in line]
    assert code == 0 and len(warnings) == 1 and "changed since this run was trained" in warnings[0], err


@pytest.mark.parametrize("field", ["train_dir", "val_dir"])
def test_a_folder_run_json_names_that_is_gone_is_named_with_run_json(run, capsys, tmp_path, field):
    edit_json(run / "run.json", lambda d: d["config"].update({field: str(tmp_path / "moved")}))
    code, _, err = run_cli(capsys, "blend", "--run", run, "--alphas", "0,1")
    assert_one_line_error(code, err, "moved: no such folder", "run.json", f"config.{field}")


def resave(file, state):
    """Weights written as the run writes them, with a valid checksum: the damage is in the values."""
    from safetensors import safe_open

    from core import atomic

    with safe_open(str(file), "pt") as f:
        meta = f.metadata()
    meta.pop("sha256", None)
    atomic.save_safetensors(state, file, meta)


def test_weights_of_another_model_are_named_with_exit_2(run, capsys):
    state = load_file(run / "checkpoints" / "best.safetensors")
    key = next(k for k, v in state.items() if v.ndim == 2)
    state[key] = torch.zeros(3, 3)
    resave(run / "checkpoints" / "best.safetensors", state)
    code, _, err = run_cli(capsys, "blend", "--run", run, "--alphas", "0,1")
    assert code == 2 and "Traceback" not in err and "best.safetensors" in err, err


@pytest.fixture
def bundle(flyp_bundle, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(flyp_bundle, copy)
    return copy


BUNDLE_DAMAGE = [
    ("preprocess.std", lambda d: d["preprocess"].update(std=[0, 0, 0])),
    ("preprocess.interpolation", lambda d: d["preprocess"].update(interpolation="bogus")),
    ("preprocess.size", lambda d: d["preprocess"].update(size=200_000)),
    ("preprocess.mean", lambda d: d["preprocess"].update(mean=["a", 1, 2])),
    ("class_names", lambda d: d.update(class_names=[1, 2, 3])),
    ("alpha", lambda d: d.update(alpha="half")),
]


@pytest.mark.parametrize("field, damage", BUNDLE_DAMAGE, ids=[f for f, _ in BUNDLE_DAMAGE])
def test_a_bundle_field_of_the_wrong_type_or_range_is_named(bundle, colour_data, capsys, field, damage):
    edit_json(bundle / "flyp.json", damage)
    image = next((colour_data["val"] / "red").glob("*.png"))
    code, _, err = run_cli(capsys, "predict", bundle, image)
    assert_one_line_error(code, err, "flyp.json", field)


def test_class_names_no_file_system_takes_become_safe_folders(tmp_path):
    from core.labelling.classify import MAX_FOLDER_BYTES, UNCERTAIN, UNKNOWN, Prediction, sort_into

    source = tmp_path / "a.png"
    source.write_bytes(b"\x89PNG not really")
    names = ["x" * 300, "y\0z", "line\nbreak", UNCERTAIN, UNKNOWN, "_Unknown", "..", "a/b"]
    predictions = [Prediction(source, [(name, 0.9)], "") for name in names]
    report = sort_into(predictions, tmp_path / "sorted")
    folders = {p.parent.name for p in report.placed}
    assert len(folders) == len(names) and not report.failed
    assert not folders & {UNCERTAIN, UNKNOWN, "_Unknown"} and all(len(f.encode()) <= MAX_FOLDER_BYTES for f in folders)
    assert not any("\0" in f or "\n" in f or f.startswith(".") for f in folders)


def test_a_non_finite_class_head_in_a_bundle_is_refused(bundle, colour_data, capsys):
    from core import checksums

    head, meta = checksums.read_verified(bundle / "class_head.safetensors")
    head["scale"] = torch.tensor(float("nan"))
    save_file(head, bundle / "class_head.safetensors", metadata=meta)
    image = next((colour_data["val"] / "red").glob("*.png"))
    code, _, err = run_cli(capsys, "predict", bundle, image)
    assert code == 2 and "Traceback" not in err and "class_head.safetensors" in err, err


def test_nan_weights_behind_a_valid_file_are_refused_at_blend_and_export(run, capsys, tmp_path):
    state = load_file(run / "checkpoints" / "best.safetensors")
    key = next(k for k, v in state.items() if v.is_floating_point() and v.ndim == 2)
    state[key][0, 0] = float("nan")
    resave(run / "checkpoints" / "best.safetensors", state)
    for argv in (["blend", "--run", run, "--alphas", "0,1"], ["export", "--run", run, "--out", tmp_path / "b"]):
        code, _, err = run_cli(capsys, *argv)
        assert_one_line_error(code, err, "best.safetensors", "NaN")
    assert not (tmp_path / "b").exists()


PROJECT_DAMAGE = [
    ("epochs", {"settings": {"epochs": 1e12}}),
    ("workers", {"settings": {"workers": 10**9}}),
    ("val_fraction", {"val_fraction": 5}),
    ("budget_minutes", {"budget_minutes": 1e308}),
    ("templates", {"templates": ["no placeholder"]}),
    ("class_names", {"class_names": {"red": "colour", "blue": "colour"}}),
    ("budget_minutes", {"budget_minutes": float("inf")}),  # json writes Infinity, and reads it back
    ("lr", {"settings": {"lr": float("nan")}}),
    ("seed", {"settings": {"seed": 2**70}}),
    ("batch_size", {"settings": {"batch_size": "64"}}),
    ("val_fraction", {"val_fraction": None}),
    ("ood_dirs", {"ood_dirs": "not a list"}),
    ("shortcut_concepts", {"shortcut_concepts": ["a ruler", "a {x} on paper"]}),
    ("shortcut_concepts", {"shortcut_concepts": "a ruler"}),
]


@pytest.mark.parametrize("field, values", PROJECT_DAMAGE, ids=[f for f, _ in PROJECT_DAMAGE])
def test_a_project_passes_through_the_command_lines_checks(tmp_path, colour_data, capsys, field, values):
    project = tmp_path / "p.flyp.json"
    project.write_text(json.dumps({"format": 1, "name": "p", **values}))
    code, _, err = run_cli(capsys, "check", colour_data["train"], "--project", project)
    assert_one_line_error(code, err, "p.flyp.json", field)


def test_a_project_nested_too_deep_is_one_line(tmp_path, colour_data, capsys):
    project = tmp_path / "deep.flyp.json"
    project.write_text("[" * 100_000 + "]" * 100_000)
    code, _, err = run_cli(capsys, "check", colour_data["train"], "--project", project)
    assert_one_line_error(code, err, "deep.flyp.json")


def test_cached_features_that_are_nan_or_of_another_width_are_computed_again(tmp_path):
    from core.model.feature_cache import FeatureCache

    cache = FeatureCache("model", root=tmp_path)
    good = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    cache.put(["a", "b", "c", "d"], good)
    cache._write_shard({"nan": torch.full((8,), float("nan"))})
    cache._write_shard({"wide": torch.ones(16) / 4})
    again = FeatureCache("model", root=tmp_path)
    assert again.get("nan") is None and again.get("wide") is None
    assert torch.equal(again.get("a"), good[0])


def test_cached_quality_measures_of_another_width_are_measured_again(tmp_path):
    """A quality cache whose rows all have three numbers (not seven) is consistent by itself:
    flyp check --json quality measures those images again instead of failing on them."""
    from PIL import Image

    from core.checks.quality import KEY, image_measures
    from core.model.feature_cache import FeatureCache, digest_of

    paths = []
    for i in range(3):
        Image.new("RGB", (20 + i, 20), (40 * i, 90, 200)).save(tmp_path / f"{i}.png")
        paths.append(tmp_path / f"{i}.png")
    FeatureCache(KEY, tmp_path / "cache", unit_rows=False).put([digest_of(p.read_bytes()) for p in paths],
                                                                torch.ones(3, 3))
    rows = image_measures(paths, cache_root=tmp_path / "cache")
    assert [tuple(r.shape) for r in rows] == [(7,)] * 3 and [int(r[0]) for r in rows] == [20, 21, 22]


def test_a_run_left_running_by_a_process_that_is_gone_reads_as_stopped(run):
    from core.training.runs import RunDir

    edit_json(run / "run.json", lambda d: d.update(status="running"))
    assert RunDir(run).read_info()["status"] == "cancelled"
    assert json.loads((run / "run.json").read_text())["status"] == "running"  # read, not rewritten


def test_a_lock_left_by_process_1_in_a_pid_namespace_is_taken_over(tmp_path):
    """A container's holder is "process 1" on this host: alive by its PID, gone by its OS lock."""
    import socket

    from core.locks import OwnedLock, holder_alive

    lock_file = tmp_path / ".flyp.lock"
    lock_file.write_text(json.dumps({"pid": 1, "host": socket.gethostname(), "flock": True}))
    assert not holder_alive(lock_file, refreshed=True)
    lock = OwnedLock(lock_file, refreshed=True)
    lock.acquire()
    try:
        assert holder_alive(lock_file, refreshed=True)  # a live holder is still told apart
        with pytest.raises(Exception, match="held by"):
            OwnedLock(lock_file).acquire()
    finally:
        lock.release()


def test_training_into_a_data_folder_is_refused_and_writes_nothing(colour_data, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(colour_data["train"], data)
    before = sorted(p.relative_to(data) for p in data.rglob("*"))
    code, _, err = run_cli(capsys, "train", "--model", "flyp-tiny", "--pretrained", "none", "--train", data,
                           "--epochs", "1", "--out", data)
    assert_one_line_error(code, err, "holds images", "--out")
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == before


def test_an_export_killed_midway_leaves_no_staging_folder_after_the_next(flyp_run, tmp_path):
    from core.export.write import export_bundle
    from core.weights.blend import open_run

    dead = tmp_path / ".b.flyp-999999999-x"   # a killed export's (no such process)
    alive = tmp_path / f".b.flyp-{__import__('os').getpid()}-y"  # one running now: not touched
    for folder in (dead, alive):
        folder.mkdir()
        (folder / "open_clip_model.safetensors").write_bytes(b"half")
    export_bundle(open_run(flyp_run), tmp_path / "b")
    assert not dead.exists() and alive.exists() and (tmp_path / "b" / "flyp.json").is_file()


def test_a_newline_in_a_file_name_stays_inside_its_csv_row(tmp_path):
    from core.labelling.classify import Prediction, csv_text

    rows = [Prediction(tmp_path / "two\nlines.png", [("red", 0.9)], ""),
            Prediction(tmp_path / "bad\r.png", [], "empty file\n(0 bytes)")]
    text = csv_text(rows, 1)
    assert len(text.splitlines()) == 3 and "two\\nlines.png" in text


@pytest.mark.parametrize("p, n, low, high", [(1.0, 16, 0.806, 1.0), (0.0, 4, 0.0, 0.49), (0.5, 4, 0.15, 0.85)])
def test_the_advice_uncertainty_holds_at_0_and_100_percent_on_few_images(p, n, low, high):
    from core.training.advice import wilson_interval

    lo, hi = wilson_interval(p, n)
    assert lo == pytest.approx(low, abs=0.01) and hi == pytest.approx(high, abs=0.01)
    assert wilson_interval(p, n * 4)[1] - wilson_interval(p, n * 4)[0] < hi - lo  # more images, narrower

"""Settings declared once (TrainConfig) and errors worded by each front end."""

import ast
import json
import re
from pathlib import Path

import pytest

from core.cli.parser import build_parser
from core.errors import SETTING, FlypError, SettingError
from core.project import load_project
from core.training.config import TrainConfig, defaults, settings
from core.training.defaults import FAMILY_SETTINGS
from flyp_app.words import error_text, label

ROOT = Path(__file__).resolve().parent.parent


def test_the_command_line_options_come_from_the_settings_declared_on_trainconfig():
    args = build_parser().parse_args(["train", "--train", "t", "--out", "o"])
    for name, setting in settings().items():
        if setting.cli and name != "train_dir":  # unset family settings: the model family's (core.training.defaults)
            assert getattr(args, name) == (None if name in FAMILY_SETTINGS else defaults()[name]), name
    args = build_parser().parse_args(["train", "--train", "t", "--out", "o", "--lr", "3e-4", "--batch-size", "64",
                                      "--mask-same-class", "--ood", "a", "--ood", "b"])
    assert (args.lr, args.batch_size, args.mask_same_class, args.ood_dirs) == (3e-4, 64, True, ["a", "b"])


def test_a_bad_setting_names_the_option_on_the_command_line_and_the_label_in_the_app():
    with pytest.raises(SettingError) as caught:
        TrainConfig(train_dir="t", batch_size=1)
    assert str(caught.value).startswith("--batch-size: must be a whole number from 2 to 65536 (a contrastive")
    assert error_text(caught.value).startswith("Batch size: must be a whole number from 2")
    assert (caught.value.setting, caught.value.found) == ("batch_size", 1)


def engine_messages():
    """Every string written into a FlypError raised by the engine (the CLI's own verbs aside)."""
    for path in sorted((ROOT / "core").rglob("*.py")):
        if "cli" in path.relative_to(ROOT / "core").parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("FlypError", "SettingError"):
                for part in ast.walk(node):
                    if isinstance(part, ast.Constant) and isinstance(part.value, str):
                        yield path.name, part.value
            elif isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "fix":
                for part in ast.walk(node.value):
                    if isinstance(part, ast.Constant) and isinstance(part.value, str):
                        yield path.name, part.value


def test_no_engine_message_names_a_command_line_option():
    messages = list(engine_messages())
    assert len(messages) > 50
    # (torchrun's own --nproc_per_node is named only under torchrun, never in the app)
    assert [(f, m) for f, m in messages if re.search(r"--(?!nproc_per_node)[a-z]", m)] == []


def test_every_setting_an_engine_message_names_has_a_label_in_the_app():
    named = {m for _, text in engine_messages() for m in SETTING.findall(text)}
    assert {"lr", "pretrained", "device", "resume", "alpha"} <= named
    for name in named:
        assert label(name) != name.replace("_", " ") and "--" not in label(name), name


def test_a_project_file_with_wrong_types_is_one_line_and_left_as_it_is(tmp_path):
    for field, value, words in [("alpha", "abc", "'alpha' should be a number"),
                                ("settings", {"lr": "fast"}, "setting 'lr' should be a number"),
                                ("settings", {"epochs": 0}, "setting 'epochs' must be a whole number from 1 to 10000"),
                                ("runs", "one", "'runs' should be a list of texts")]:
        path = tmp_path / "Bad.flyp.json"
        text = json.dumps({"format": 1, field: value})
        path.write_text(text)
        with pytest.raises(FlypError) as caught:
            load_project(path)
        message = str(caught.value)
        assert words in message and str(path) in message and "\n" not in message
        assert path.read_text() == text

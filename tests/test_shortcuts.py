"""Shortcuts (`core.checks.shortcuts`, `flyp check`'s `shortcuts`): on demo folders where one
class alone has sketches among its photos, that class and a sketch concept come first; on the
unchanged demo folders nothing is flagged. The demo model was pretrained on captions that name
the style ("a sketch of a star"), so it knows the sketch concept; concepts its world never had
(a hand, a ruler) it cannot know, and the test asserts only that they are not flagged."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from cli_helpers import run_cli

PLANTED = 12  # sketches among the star class's 60 photos


@pytest.fixture(scope="module")
def demo_folders(tmp_path_factory):
    from core.demo.task import write_demo_data

    root = tmp_path_factory.mktemp("demo-shortcuts")
    write_demo_data(root, seed=0, train_per_class=60, val_per_class=2, ood_per_class=PLANTED)
    return root


@pytest.fixture(scope="module")
def sketched(demo_folders, tmp_path_factory):
    """The training folder with the star class's sketches (from the demo's sketch folder) added."""
    train = shutil.copytree(demo_folders / "train", tmp_path_factory.mktemp("sketched") / "train")
    for path in sorted((demo_folders / "ood-sketch" / "star").glob("*.png")):
        shutil.copy(path, train / "star" / f"sketch-{path.name}")
    return train


def shortcuts_of(train, concepts=()):
    from core.checks.shortcuts import find_shortcuts
    from core.data.folders import scan_folder
    from core.labelling.predictor import zero_shot
    from core.model.feature_cache import FeatureCache, all_features
    from core.model.loading import ModelSpec, load_model

    scan = scan_folder(train, verify=False)
    predictor = zero_shot(load_model(ModelSpec("demo", None), "cpu"), scan.classes, ["a photo of a {}."])
    paths = [s.path for s in scan.samples]  # features in the user's cache: `flyp check` below reuses them
    features = torch.stack([i.features for i in all_features(paths, predictor, cache=FeatureCache(predictor.key))])
    return find_shortcuts(features, [s.label for s in scan.samples], paths, predictor, own_concepts=concepts)


def test_sketches_in_one_class_are_flagged_first(sketched):
    found = shortcuts_of(sketched, concepts=["a petri dish"])
    assert found, "no shortcut flagged"
    assert found[0].class_name == "star" and found[0].concept in ("sketch", "drawing"), found[0]
    assert found[0].share_in_class > 3 * found[0].share_elsewhere
    carried = {p for p in found[0].images}
    assert sum("sketch-" in p for p in carried) >= 0.8 * PLANTED and len(carried) <= PLANTED + 3
    assert all(s.class_name == "star" for s in found)
    assert "star" in found[0].advice


def test_unchanged_demo_folders_have_no_shortcut(demo_folders):
    assert shortcuts_of(demo_folders / "train", concepts=["a petri dish", "a sketch of a {} on paper"]) == []


def test_flyp_check_json_lists_shortcuts(sketched, capsys):
    code, out, err = run_cli(capsys, "check", sketched, "--model", "demo", "--json", "--concept", "a ruler")
    assert code == 0, err
    shortcuts = json.loads(out)["shortcuts"]
    assert shortcuts and shortcuts[0]["class"] == "star" and shortcuts[0]["concept"] in ("sketch", "drawing")
    assert {"concept", "class", "share_in_class", "share_elsewhere"} <= set(shortcuts[0])
    strengths = [s["share_in_class"] - s["share_elsewhere"] for s in shortcuts]
    assert strengths == sorted(strengths, reverse=True)


def test_flyp_check_looks_for_the_concepts_saved_with_the_project(sketched, tmp_path, capsys):
    from core.project import Project, load_project, save_project

    path = save_project(Project(name="p", train_dir=str(sketched), shortcut_concepts=["a sketch of a {} on paper"]),
                        tmp_path / "p.flyp.json")
    assert load_project(path).shortcut_concepts == ["a sketch of a {} on paper"]  # saved and read back
    code, out, err = run_cli(capsys, "check", sketched, "--model", "demo", "--json", "--project", path)
    assert code == 0, err
    assert "a sketch of a {} on paper" in {s["concept"] for s in json.loads(out)["shortcuts"]}


@pytest.mark.parametrize("concept, words", [("a {x} on paper", "{x}"), ("a {} and a {}", "placeholders"),
                                            ("a ruler {", "stray brace"), ("  ", "empty")])
def test_a_bad_concept_on_the_command_line_is_one_line(colour_data, capsys, concept, words):
    from cli_helpers import assert_one_line_error

    code, _, err = run_cli(capsys, "check", colour_data["train"], "--model", "demo", "--concept", concept)
    assert_one_line_error(code, err, "--concept", words)

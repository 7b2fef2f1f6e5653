"""Search by words or by example (`core.explore.search`, `flyp search`) on the demo folders with
the demo model: a phrase naming a class brings that class's images first, an example image
finds itself first, bad input is one line with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_helpers import assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def demo_val(tmp_path_factory):
    from core.demo.task import write_demo_data

    root = tmp_path_factory.mktemp("demo-search")
    write_demo_data(root, seed=0, train_per_class=1, val_per_class=20, ood_per_class=1)
    return root / "val"


@pytest.fixture(scope="module")
def demo_predictor():
    from core.labelling.predictor import zero_shot
    from core.model.loading import ModelSpec, load_model

    return zero_shot(load_model(ModelSpec("demo", None), "cpu"), [], ["a photo of a {}."])


def test_a_class_name_brings_its_images_first(demo_val, demo_predictor, tmp_path):
    from core.demo.task import DEMO_CLASSES
    from core.explore.search import image_paths, search

    paths = image_paths([demo_val])
    shares = {}
    for name in DEMO_CLASSES:
        top = search(paths, demo_predictor, text=name, top=10, cache_root=tmp_path)
        shares[name] = sum(Path(m.path).parent.name == name for m in top) / len(top)
        assert [m.similarity for m in top] == sorted((m.similarity for m in top), reverse=True)
    # Chance is 1/12. Measured on the full val folder (40 per class): 81% of the first ten on average.
    assert sum(shares.values()) / len(shares) >= 0.6, shares
    written = search(paths, demo_predictor, text="a photo of a square.", top=10, cache_root=tmp_path)
    assert sum(Path(m.path).parent.name == "square" for m in written) >= 8


def test_an_example_image_finds_itself_first(demo_val, demo_predictor, tmp_path):
    from core.explore.search import image_paths, search

    paths = image_paths([demo_val])
    for example in paths[::50]:
        found = search(paths, demo_predictor, image=example, cache_root=tmp_path)
        assert found[0].path == str(example) and found[0].similarity == pytest.approx(1.0, abs=1e-4)
        assert len(found) == len(paths)


def test_flyp_search_json(demo_val, capsys):
    code, out, err = run_cli(capsys, "search", demo_val, "--text", "ring", "--top", "5", "--json")
    assert code == 0, err
    found = json.loads(out)
    assert len(found) == 5 and all(set(m) == {"path", "similarity"} for m in found)
    assert [m["similarity"] for m in found] == sorted((m["similarity"] for m in found), reverse=True)
    assert sum(Path(m["path"]).parent.name == "ring" for m in found) >= 4


@pytest.mark.parametrize("argv, words", [
    (["--text", "star", "--image", "x.png"], ["--text", "--image"]),
    ([], ["--text", "--image"]),
    (["--image", "missing.png"], ["missing.png"]),
])
def test_bad_search_input_is_one_line(demo_val, capsys, argv, words):
    code, _, err = run_cli(capsys, "search", demo_val, *argv)
    assert_one_line_error(code, err, *words)


def test_a_missing_folder_is_one_line(tmp_path, capsys):
    code, _, err = run_cli(capsys, "search", tmp_path / "nowhere", "--text", "star")
    assert_one_line_error(code, err, "nowhere")

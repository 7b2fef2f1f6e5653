"""Bundles ready for the Hugging Face Hub: open_clip's file names, a model card with metadata and
a code sample that works, loading by `hf-hub:` name, and bundles of the earlier layout."""

import json
import re
import shutil
import subprocess
import sys

import open_clip
import pytest
import torch

from core.export.bundle import load_bundle
from hub_cache import add_repo


@pytest.fixture(scope="module")
def card_bundle(flyp_run, tmp_path_factory):
    """`flyp_run` exported by the command line, which puts the accuracy into the card."""
    from core.cli import main

    out = tmp_path_factory.mktemp("card") / "bundle"
    assert main(["export", "--run", str(flyp_run), "--alpha", "1", "--out", str(out)]) == 0
    return out


def test_the_card_header_is_read_by_the_hub_library(card_bundle):
    from huggingface_hub import ModelCard

    data = ModelCard.load(card_bundle / "README.md").data
    info = json.loads((card_bundle / "flyp.json").read_text())
    assert data.library_name == "open_clip" and {"open_clip", "image-classification"} <= set(data.tags)
    assert data.license  # a licence field the Hub accepts ("other" + a name when the base model's is unknown)
    accuracy = {r.dataset_name: r.metric_value for r in data.eval_results if r.metric_type == "accuracy"}
    assert accuracy["validation"] == pytest.approx(info["metrics"]["id"]["accuracy"], abs=1e-4)
    assert accuracy["ood (different conditions)"] == pytest.approx(info["metrics"]["ood"]["accuracy"], abs=1e-4)
    assert data.model_name == card_bundle.name == info["name"]  # the model's name on the Hub: the bundle's


def test_the_cards_python_sample_prints_the_top_class(card_bundle, colour_data, tmp_path):
    card = (card_bundle / "README.md").read_text()
    sample = next(block for block in re.findall(r"```python\n(.*?)```", card, re.S) if "class_head" in block)
    (tmp_path / "classify.py").write_text(sample)
    image = colour_data["val"] / "blue" / "blue_001.png"
    done = subprocess.run([sys.executable, str(tmp_path / "classify.py"), str(image)], cwd=card_bundle,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    name, probability = done.stdout.strip().split("\t")
    [[(top, p)]] = load_bundle(card_bundle).predict([image], 1)
    assert name == top and float(probability) == pytest.approx(p, abs=2e-3)


def test_an_uploaded_bundle_loads_by_its_hub_name(flyp_bundle, tmp_path, monkeypatch, colour_data):
    add_repo(tmp_path, "me/colours", {p.name: p for p in flyp_bundle.iterdir() if p.is_file()})
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    model, _, preprocess = open_clip.create_model_and_transforms("hf-hub:me/colours", cache_dir=str(tmp_path))
    bundle = load_bundle(flyp_bundle)
    pixels = bundle.normalize(bundle.images([colour_data["val"] / "red" / "red_000.png"]))
    with torch.no_grad():
        assert torch.allclose(model.eval().encode_image(pixels), bundle.model.encode_image(pixels), atol=1e-5)


def test_a_bundle_with_a_transformers_text_tower_names_the_extra_when_it_is_missing(flyp_bundle, tmp_path,
                                                                                  monkeypatch):
    from core.errors import FlypError

    bundle = shutil.copytree(flyp_bundle, tmp_path / "biomed")
    config = json.loads((bundle / "open_clip_config.json").read_text())
    config["model_cfg"]["text_cfg"] = {"hf_model_name": "org/bert", "hf_tokenizer_name": "org/bert"}
    (bundle / "open_clip_config.json").write_text(json.dumps(config))
    monkeypatch.setitem(sys.modules, "transformers", None)  # as if not installed
    with pytest.raises(FlypError, match=r"biomed: the bundle's text tower \(org/bert\).*pip install 'flyp-studio\[hf\]'"):
        load_bundle(bundle)


def test_bundles_of_the_earlier_layout_still_load(flyp_bundle, tmp_path, colour_data):
    old = shutil.copytree(flyp_bundle, tmp_path / "old")
    (old / "open_clip_model.safetensors").rename(old / "model.safetensors")
    image = colour_data["val"] / "green" / "green_000.png"
    assert load_bundle(old).predict([image], 2) == load_bundle(flyp_bundle).predict([image], 2)


def test_the_base_models_licence_comes_from_its_cached_card(tmp_path, monkeypatch):
    from core.export.card import base_model

    add_repo(tmp_path, "org/base", {"README.md": b"---\nlicense: apache-2.0\n---\n# A base model\n"})
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    assert base_model("hf-hub:org/base", None) == ("org/base", "apache-2.0")
    assert base_model("hf-hub:org/uncached", None) == ("org/uncached", None)

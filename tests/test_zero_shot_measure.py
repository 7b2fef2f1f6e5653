"""The Captions page's zero-shot measurement: right numbers, and images encoded once across template edits."""

import os

import pytest

from conftest import TINY, write_class_folders
from core.model.classifier import Classifier
from core.data.folders import load_datasets
from core.data.loader import EvalImages
from flyp_app import data_tasks
from flyp_app.caches import Caches

CLASSES = ["red", "green", "blue"]


@pytest.fixture
def counted_decodes(monkeypatch):
    """How many evaluation sets were decoded (and so encoded) from their files."""
    calls = []
    original = EvalImages.__init__

    def counting(self, samples, *args, **kwargs):
        calls.append(len(samples))
        original(self, samples, *args, **kwargs)
    monkeypatch.setattr(EvalImages, "__init__", counting)
    return calls


def test_measuring_again_after_a_template_edit_reuses_the_image_features(tmp_path, counted_decodes):
    train = write_class_folders(tmp_path / "train", 4, seed=1)
    val = write_class_folders(tmp_path / "val", 5, seed=2)
    data = load_datasets(str(train), str(val), [])
    decoded, caches = [], Caches()
    for templates in (["a photo of a {}."], ["a {} thing.", "art of the {}."]):  # the user edits the templates
        measured = data_tasks.zero_shot(caches, TINY, "none", data, CLASSES, templates)
        decoded.append(list(counted_decodes))
        reference = Classifier(caches.model(TINY, "none"), CLASSES, templates)
        expected = reference.evaluate(EvalImages(data.val, reference.loaded.image_size)).to_json(full=True)
        counted_decodes.clear()
        assert measured["id"] == expected
    assert decoded == [[15], []]  # the second measurement encoded only the new captions

    changed = data.val[0].path
    os.utime(changed, ns=(0, 0))  # the file changed on disk: its set is encoded again
    data_tasks.zero_shot(caches, TINY, "none", data, CLASSES, ["a photo of a {}."])
    assert counted_decodes == [15]

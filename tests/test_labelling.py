"""Labelling in the engine: features cached per file and model, files placed without overwriting
and put back exactly, and suggestions that beat zero-shot after a few labels."""

from __future__ import annotations

import shutil

import pytest
import torch

from core.errors import FlypError


class CountingEncoder:
    """A stand-in image tower: mean colour features, counting the images it encodes."""

    key, image_size, interpolation, device = "counting", 8, "bilinear", "cpu"

    def __init__(self):
        self.encoded = 0

    def features(self, pixels):
        self.encoded += len(pixels)
        return torch.nn.functional.normalize(pixels.float().mean(dim=(2, 3)), dim=-1)


def test_features_are_computed_once_per_file_and_kept_across_sessions(colour_data, tmp_path):
    from core.model.feature_cache import FeatureCache, all_features

    files = sorted((colour_data["val"] / "red").glob("*.png"))[:5]
    (tmp_path / "bad.png").write_text("not an image")
    encoder = CountingEncoder()
    first = all_features([*files, tmp_path / "bad.png"], encoder, cache=FeatureCache("counting", tmp_path / "c"),
                         batch_size=2)
    assert encoder.encoded == 5 and first[-1].features is None and "not an image" in first[-1].reason
    copy = shutil.copy(files[0], tmp_path / "renamed copy.png")  # same content, another name
    later = FeatureCache("counting", tmp_path / "c")  # a new session: read from disk
    again = all_features([*files, copy], encoder, cache=later)
    assert encoder.encoded == 5  # nothing encoded again
    assert all(torch.equal(a.features, b.features) for a, b in zip(first[:5], again[:5]))
    assert torch.equal(again[-1].features, first[0].features)
    other = CountingEncoder()
    all_features(files, other, cache=FeatureCache("another model", tmp_path / "c"))
    assert other.encoded == 5  # features belong to one model


def test_a_damaged_feature_shard_is_computed_again(colour_data, tmp_path):
    from core.model.feature_cache import FeatureCache, all_features

    files = sorted((colour_data["val"] / "blue").glob("*.png"))[:3]
    all_features(files, CountingEncoder(), cache=FeatureCache("counting", tmp_path))
    for shard in tmp_path.rglob("*.safetensors"):
        shard.write_bytes(shard.read_bytes()[:40])
    encoder = CountingEncoder()
    items = all_features(files, encoder, cache=FeatureCache("counting", tmp_path))
    assert encoder.encoded == 3 and all(i.features is not None for i in items)


def test_place_never_overwrites_and_a_failure_changes_nothing(tmp_path, monkeypatch):
    from core.labelling import files

    source = tmp_path / "in" / "cat.png"
    source.parent.mkdir()
    source.write_bytes(b"new cat")
    target = tmp_path / "train" / "cat"
    target.mkdir(parents=True)
    (target / "cat.png").write_bytes(b"old cat")
    placed = files.place(source, target)
    assert placed.name == "cat (2).png" and placed.read_bytes() == b"new cat" and source.exists()
    assert (target / "cat.png").read_bytes() == b"old cat"

    def disk_full(src, reserved):
        reserved.write_bytes(b"partial")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(files, "_copy_over", disk_full)
    before = sorted(p.name for p in target.iterdir())
    with pytest.raises(FlypError, match="cat.png: could not copy it into .*No space left on device"):
        files.place(source, target)
    assert sorted(p.name for p in target.iterdir()) == before and source.read_bytes() == b"new cat"


def test_moves_are_logged_and_undone_exactly(tmp_path):
    from core.labelling.files import LabelLog, Labeller

    new = tmp_path / "new"
    new.mkdir()
    for name in ("a.png", "b.png"):
        (new / name).write_bytes(name.encode())
    train = tmp_path / "train"
    (train / "dog").mkdir(parents=True)
    log = LabelLog(tmp_path / "P-labels.csv")
    labeller = Labeller(train, log, move=True)
    done = labeller.assign([new / "a.png", new / "b.png"], "zebra", [("dog", 0.7), ("zebra", 0.4)])
    assert [a.destination for a in done] == [train / "zebra" / "a.png", train / "zebra" / "b.png"]
    assert not list(new.iterdir())
    labeller.undo()
    assert sorted(p.name for p in new.iterdir()) == ["a.png", "b.png"] and (new / "a.png").read_bytes() == b"a.png"
    assert not (train / "zebra").exists()  # the class folder the labels made is gone again
    rows = log.rows()
    assert [(r["class"], r["suggestion"], r["action"]) for r in rows] == [
        ("zebra", "dog", "move"), ("zebra", "zebra", "move"), ("zebra", "zebra", "undo move"), ("zebra", "dog", "undo move")]
    assert rows[0]["source"] == str(new / "a.png") and float(rows[0]["confidence"]) == 0.7 and rows[0]["time"]


def test_undo_refuses_to_overwrite_a_file_that_came_back(tmp_path):
    from core.labelling.files import LabelLog, Labeller

    (tmp_path / "a.png").write_bytes(b"a")
    labeller = Labeller(tmp_path / "train", LabelLog(tmp_path / "log.csv"), move=True)
    labeller.assign([tmp_path / "a.png"], "x")
    (tmp_path / "a.png").write_bytes(b"someone else's")
    with pytest.raises(FlypError, match="a.png: a file of that name is there again"):
        labeller.undo()
    assert (tmp_path / "a.png").read_bytes() == b"someone else's" and (tmp_path / "train" / "x" / "a.png").is_file()


@pytest.fixture(scope="module")
def demo_features(tmp_path_factory):
    """The demo model's zero-shot predictors (the real class names, and codes it never read), and
    features of 10 training photos per class and of the validation photos."""
    from core.data.folders import scan_folder
    from core.demo.task import write_demo_data
    from core.labelling.predictor import zero_shot
    from core.model.feature_cache import all_features
    from core.model.loading import ModelSpec, load_model

    root = tmp_path_factory.mktemp("demo")
    write_demo_data(root, seed=0, train_per_class=10, val_per_class=30, ood_per_class=0)
    train, val = scan_folder(root / "train", verify=False), scan_folder(root / "val", verify=False)
    loaded = load_model(ModelSpec("demo"))
    predictor = zero_shot(loaded, train.classes, ["a photo of a {}."])
    coded = zero_shot(loaded, [f"type {chr(65 + i)}" for i in range(len(train.classes))], ["a photo of a {}."])

    def encode(scan):
        items = all_features([s.path for s in scan.samples], predictor)
        return torch.stack([i.features for i in items]), torch.tensor([s.label for s in scan.samples])
    return (predictor, coded), encode(train), encode(val)


def _accuracy(probe, x, y) -> float:
    return (probe.probabilities(x).argmax(1) == y).float().mean().item()


def test_suggestions_after_a_few_labels_per_class_beat_zero_shot(demo_features):
    from core.labelling.suggest import AnchoredProbe, affine_head

    (predictor, coded), (x_train, y_train), (x_val, y_val) = demo_features
    prior = affine_head(predictor.head, x_val.shape[1])
    zero_shot = (predictor.probabilities(x_val).argmax(1) == y_val).float().mean().item()
    assert _accuracy(AnchoredProbe(*prior), x_val, y_val) == zero_shot
    # Class names the model knows: ten labels per class keep what it knew and add to it.
    assert _accuracy(AnchoredProbe(*prior, x_train, y_train.tolist()), x_val, y_val) > zero_shot
    # Class names it never read (codes, jargon): zero-shot guesses, five labels per class teach it.
    coded_prior = affine_head(coded.head, x_val.shape[1])
    five = torch.cat([torch.nonzero(y_train == c).flatten()[:5] for c in range(int(y_train.max()) + 1)])
    guessed = _accuracy(AnchoredProbe(*coded_prior), x_val, y_val)
    learned = _accuracy(AnchoredProbe(*coded_prior, x_train[five], y_train[five].tolist()), x_val, y_val)
    assert guessed < 0.15 and learned > guessed + 0.2, (guessed, learned)


def test_features_of_models_unused_the_longest_are_removed(tmp_path, monkeypatch):
    import os

    from core.model import feature_cache

    monkeypatch.setattr(feature_cache, "KEEP_MODELS", 2)
    for i, name in enumerate(("oldest", "older", "recent")):
        cache = feature_cache.FeatureCache(name, tmp_path)
        cache.put([f"digest{i}"], torch.ones(1, 4) / 2)  # a unit row, as features are
        os.utime(cache.folder, (1000 + i, 1000 + i))
    assert len(feature_cache.FeatureCache("oldest", tmp_path)) == 1  # opening it makes it the most recent
    assert not feature_cache.FeatureCache("older", tmp_path).folder.exists()


def test_the_suggestions_accuracy_is_measured_out_of_fold():
    """The accuracy shown beside the suggestions: each labelled image judged by a probe fitted
    without it — all right where the labels follow the features, about chance where they do not."""
    import torch

    from core.labelling.suggest import cross_validate

    g = torch.Generator().manual_seed(0)
    centres = torch.eye(3, 8) * 4
    y = torch.arange(30) % 3
    x = centres[y] + 0.3 * torch.randn(30, 8, generator=g)
    prior = (torch.zeros(3, 8), torch.zeros(3))
    _, accuracy = cross_validate(x, y, prior)
    assert accuracy == 1.0
    _, shuffled = cross_validate(x, y[torch.randperm(30, generator=g)], prior)
    assert shuffled < 0.6
    assert cross_validate(x[:3], y[:3], prior)[1] is None  # too few to hold any out

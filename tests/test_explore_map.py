import numpy as np
import pytest
import torch

from core.explore import map as feature_map_mod
from core.explore.map import feature_map
from core.progress import Cancelled


def _clusters(classes=3, each=30, dims=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dims, generator=g)
    x = torch.cat([c + 0.3 * torch.randn(each, dims, generator=g) for c in centres])
    return x, [i for i in range(classes) for _ in range(each)]


def test_map_keeps_classes_apart():
    x, labels = _clusters()
    xy = feature_map(x)
    assert xy.shape == (len(labels), 2)
    d = ((xy[:, None] - xy[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nearest = d.argmin(1)
    same = np.mean([labels[i] == labels[j] for i, j in enumerate(nearest)])
    assert same > 0.9


def test_cache_hit_recomputes_nothing(tmp_path, monkeypatch):
    x, _ = _clusters(each=10)
    first = feature_map(x, cache_dir=tmp_path)
    monkeypatch.setattr(feature_map_mod, "_project", lambda *a: pytest.fail("recomputed"))
    assert np.array_equal(feature_map(x, cache_dir=tmp_path), first)
    with pytest.raises(BaseException):
        feature_map(x + 1.0, cache_dir=tmp_path)  # other features: a miss, so it would compute


def test_cancel_stops_and_writes_nothing(tmp_path):
    x, _ = _clusters(each=10)
    with pytest.raises(Cancelled):
        feature_map(x, cache_dir=tmp_path, cancel=lambda: True)
    assert not list(tmp_path.iterdir())


class _ColourEncoder:
    """Images → their mean colour (normalised) as features: reds lie apart from blues."""

    key, image_size, interpolation, device = "test-colours", 16, "bilinear", "cpu"

    def features(self, pixels):
        x = pixels.float().mean(dim=(2, 3)) + 1.0
        return x / x.norm(dim=1, keepdim=True)

    def head(self, features):
        return features[:, :2]


class _RedIsKnown:
    """A novelty score by which only the reddish images are like the training images."""

    def score(self, features, logits):
        return features[:, 2] - features[:, 0]

    def known(self, scores):
        return scores <= 0


def test_map_files_lays_out_the_usable_files_and_marks_the_unknown(tmp_path):
    from PIL import Image

    from core.explore.map import map_files

    paths = []
    for i in range(8):
        colour = (200 + i, 20, 20) if i < 4 else (20, 20, 200 + i)
        path = tmp_path / f"{i}.png"
        Image.new("RGB", (16, 16), colour).save(path)
        paths.append(path)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    laid = map_files(paths[:4] + [broken] + paths[4:], _ColourEncoder(), novelty=_RedIsKnown(),
                     cache_dir=tmp_path / "maps")
    assert laid.kept == [0, 1, 2, 3, 5, 6, 7, 8] and list(laid.reasons) == [4] and laid.reasons[4]
    assert laid.xy.shape == (8, 2)
    assert laid.known == [True] * 4 + [False] * 4
    assert len(list((tmp_path / "maps").glob("map-*.npy"))) == 1  # the layout is kept for next time

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

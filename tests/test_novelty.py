"""'None of these classes': the novelty scores against plain references, their threshold, and
the measured claim on the demo (images of none of its shapes are turned away)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.errors import FlypError
from core.trust import novelty


def _clusters(seed: int = 0, n: int = 60, d: int = 8, classes: int = 3):
    g = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(classes, d, generator=g), dim=-1) * 3
    labels = torch.arange(n) % classes
    return F.normalize(centres[labels] + 0.3 * torch.randn(n, d, generator=g), dim=-1), labels


def test_mahalanobis_matches_scikit_learns_ledoit_wolf_covariance():
    from sklearn.covariance import LedoitWolf

    features, labels = _clusters()
    tensors = novelty.fit_reference("mahalanobis", features, labels, 3)
    x, y = features.double().numpy(), labels.numpy()
    means = np.stack([x[y == c].mean(0) for c in range(3)])
    centred = x - means[y]
    cov = LedoitWolf(assume_centered=True).fit(centred).covariance_
    mu = np.trace(centred.T @ centred / len(x)) / x.shape[1]
    precision = np.linalg.inv(cov + novelty.SHRINK * mu * np.eye(len(cov)))
    probe = F.normalize(torch.randn(5, 8, generator=torch.Generator().manual_seed(1)), dim=-1)
    p = probe.double().numpy()
    expected = np.min([np.einsum("nd,de,ne->n", p - m, precision, p - m) for m in means], axis=0)
    got = novelty.score("mahalanobis", tensors, probe, torch.zeros(5, 3))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-3)


def test_features_that_fill_few_directions_still_give_scores_that_do_not_round_away():
    # A tower barely trained: every feature nearly the same direction. The score must still tell
    # a slightly moved copy of a training feature from the feature itself, the same in float32 twice.
    base = F.normalize(torch.ones(1, 16), dim=-1)
    g = torch.Generator().manual_seed(0)
    features = F.normalize(base + 1e-4 * torch.randn(60, 16, generator=g), dim=-1)
    labels = torch.arange(60) % 3
    tensors = novelty.fit_reference("mahalanobis", features, labels, 3)
    first = novelty.score("mahalanobis", tensors, features[:10], torch.zeros(10, 3))
    again = novelty.score("mahalanobis", tensors, features[:10] + 1e-9, torch.zeros(10, 3))
    assert bool((first >= 0).all()) and float((first - again).abs().max()) < 1e-2 * float(first.mean())


def test_knn_and_prototype_scores_grow_away_from_the_training_images():
    features, labels = _clusters()
    far = -features[:5]  # the opposite directions: unlike every training image
    for method in ("knn", "prototype", "mahalanobis"):  # the relative one discounts what all images share
        tensors = novelty.fit_reference(method, features, labels, 3)
        near_scores = novelty.score(method, tensors, features[:5], torch.zeros(5, 3))
        far_scores = novelty.score(method, tensors, far, torch.zeros(5, 3))
        assert bool((far_scores > near_scores.max()).all()), method


def test_the_threshold_keeps_the_asked_share_of_validation_and_auroc_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    scores = torch.arange(100, dtype=torch.float32)
    threshold = novelty.threshold_for(scores, 0.95)
    assert float((scores <= threshold).float().mean()) == pytest.approx(0.95)
    known, foreign = torch.randn(50), torch.randn(40) + 1
    expected = roc_auc_score([0] * 50 + [1] * 40, torch.cat([known, foreign]).numpy())
    assert novelty.auroc(known, foreign) == pytest.approx(expected)
    with pytest.raises(FlypError, match="keep"):
        novelty.threshold_for(scores, 1.5)


def test_a_fitted_score_says_how_unusual_an_image_is_and_survives_its_tensors():
    features, labels = _clusters()
    model = novelty.fit_novelty("mahalanobis", features[:45], labels[:45], 3, features[45:], torch.zeros(15, 3))
    assert float(model.known(model.score(features[45:], torch.zeros(15, 3))).float().mean()) >= 0.95
    assert float(model.tail(torch.tensor([-1e9]))) == 1.0 and float(model.tail(torch.tensor([1e9]))) == 0.0
    again = novelty.from_tensors(model.to_json(), model.to_tensors(), "x")
    torch.testing.assert_close(again.score(features, torch.zeros(60, 3)), model.score(features, torch.zeros(60, 3)),
                               rtol=1e-4, atol=1e-4)  # float32 products, once contiguous
    with pytest.raises(FlypError, match="lacks precision"):
        novelty.from_tensors(model.to_json(), {"means": model.tensors["means"], "validation": model.validation}, "b")

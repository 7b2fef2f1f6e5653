"""Less sure of unusual images: the novelty score's factor on the temperature, fitted on ID
validation alone (core.trust.lowering), carried by the NoveltyModel and a bundle's flyp.json."""

from __future__ import annotations

import pytest
import torch

from core.errors import FlypError
from core.trust import calibration, lowering, novelty


def _validation(n: int = 1200, classes: int = 5, seed: int = 0):
    """Novelty scores and logits whose overconfidence grows with the score: labels drawn from
    softmax(z), the logits (1 + 4·s²)·z for a score s in [0, 1]. The more novel, the less to trust."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.rand(n, generator=g)
    z = 2 * torch.randn(n, classes, generator=g)
    labels = torch.multinomial(z.softmax(-1), 1, generator=g)[:, 0]
    return scores, (1 + 4 * scores[:, None] ** 2) * z, labels


def _model(scores, logits, labels) -> novelty.NoveltyModel:
    t = calibration.fit_temperature(logits, labels)
    fitted = lowering.fit_lowering(scores, logits, labels, t)
    return novelty.NoveltyModel("energy", {}, float(novelty.threshold_for(scores)), novelty.KEEP,
                                scores.sort().values, lowering=fitted), t


def test_the_factors_grow_with_novelty_and_never_make_an_unusual_image_surer():
    model, _ = _model(*_validation())
    factors = model.lowering.factors
    assert all(a <= b for a, b in zip(factors, factors[1:])) and factors[0] >= lowering.G_MIN
    assert factors[-1] > 1.5 * factors[0]  # the most novel band is far less sure than the typical half
    logits = torch.tensor([[4.0, 1.0, 0.0, 0.0, 0.0]]).repeat(3, 1)
    scores = torch.tensor([0.1, 0.9, 5.0])  # typical, among the 5% most novel, beyond every validation image
    lowered = (logits / model.factor(scores)[:, None]).softmax(-1)
    assert lowered.argmax(-1).tolist() == [0, 0, 0]  # the same class…
    assert lowered[0, 0] > lowered[1, 0] >= lowered[2, 0]  # …less sure the more unusual


def test_on_held_out_validation_images_the_lowered_confidence_is_more_honest():
    model, t = _model(*_validation(seed=1))
    scores, logits, labels = _validation(seed=2)  # new images drawn as validation's were
    g = model.factor(scores)[:, None]
    plain = torch.nn.functional.cross_entropy(logits / t, labels)
    lowered = torch.nn.functional.cross_entropy(logits / (t * g), labels)
    assert lowered < plain - 0.01
    correct = logits.argmax(-1) == labels
    error = calibration.calibration_error((logits / t).softmax(-1).max(-1).values, correct)
    error_lowered = calibration.calibration_error((logits / (t * g)).softmax(-1).max(-1).values, correct)
    assert error_lowered <= error + 0.01  # validation-like images' calibration error not made worse
    novel = scores > 0.8  # where the plain confidence overstates accuracy most
    assert calibration.calibration_error((logits[novel] / (t * g[novel])).softmax(-1).max(-1).values,
                                         correct[novel]) < \
        calibration.calibration_error((logits[novel] / t).softmax(-1).max(-1).values, correct[novel]) - 0.03


def test_too_few_validation_images_or_no_error_lower_nothing():
    scores, logits, labels = _validation(n=30)
    assert lowering.fit_lowering(scores, logits, labels, 1.0) is None
    scores, logits, _ = _validation()
    assert lowering.fit_lowering(scores, logits, logits.argmax(-1), 1.0) is None  # every image right
    model = novelty.NoveltyModel("energy", {}, 0.9, 0.95, scores.sort().values)
    assert model.factor(torch.tensor([0.1, 9.0])).tolist() == [1.0, 1.0]  # an older bundle: as before


def test_the_report_with_novelty_uses_the_rule_predictions_use():
    scores, logits, labels = _validation(seed=3)
    model, t = _model(scores, logits, labels)

    class Scored:  # the scores stand for the features here
        def __getattr__(self, name):
            return getattr(model, name)

        def score(self, features, logits):
            return features

    report = calibration.calibration_report({"id": (logits, labels)}, Scored(), {"id": scores})["sets"]["id"]
    lowered = (logits / (t * model.factor(scores)[:, None])).softmax(-1).max(-1).values
    correct = logits.argmax(-1) == labels
    assert report["calibration_error_with_novelty"] == pytest.approx(calibration.calibration_error(lowered, correct))
    assert report["mean_confidence_with_novelty"] == pytest.approx(float(lowered.mean()))
    half = next(r for r in report["coverage_with_novelty"] if r["threshold"] == pytest.approx(0.5))
    assert half["coverage"] == pytest.approx(float((lowered >= 0.5).float().mean()))  # what _uncertain/ leaves


def test_the_lowering_survives_flyp_json_and_a_damaged_one_names_it(tmp_path):
    model, _ = _model(*_validation())
    entry = model.to_json()
    again = novelty.from_tensors(entry, model.to_tensors(), "novelty.safetensors", str(tmp_path / "flyp.json"))
    scores = torch.linspace(-0.5, 1.5, 41)
    assert torch.equal(again.factor(scores), model.factor(scores))
    for damaged in ({"edges": [0.5], "factors": [1.0]}, {"edges": [0.2, 0.5], "factors": [1, 2, 3]},
                    {"edges": [0.5], "factors": [2.0, 1.0]}, {"edges": [0.5], "factors": [1.0, float("nan")]}, "x"):
        with pytest.raises(FlypError, match=r"flyp\.json: damaged: its novelty entry's lowering") as caught:
            novelty.from_tensors(entry | {"lowering": damaged}, model.to_tensors(), "novelty.safetensors",
                                 str(tmp_path / "flyp.json"))
        assert "\n" not in str(caught.value)

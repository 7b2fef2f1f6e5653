"""Confidence that means what it says: temperature scaling on ID validation, calibration error,
reliability and coverage (core.trust.calibration)."""

from __future__ import annotations

import pytest
import torch

from core.trust import calibration


def _overconfident(n: int = 2000, classes: int = 5, factor: float = 3.0, seed: int = 0):
    """Labels drawn from softmax(z): z is honest, factor·z is overconfident by exactly `factor`."""
    g = torch.Generator().manual_seed(seed)
    z = 2 * torch.randn(n, classes, generator=g)
    labels = torch.multinomial(z.softmax(-1), 1, generator=g)[:, 0]
    return factor * z, labels


def test_the_temperature_is_the_nll_minimum_found_by_a_plain_grid_search():
    logits, labels = _overconfident()
    fitted = calibration.fit_temperature(logits, labels)
    grid = torch.linspace(0.5, 6, 551)
    nll = torch.stack([torch.nn.functional.cross_entropy(logits / t, labels) for t in grid])
    assert fitted == pytest.approx(float(grid[nll.argmin()]), abs=0.01)
    assert fitted == pytest.approx(3.0, rel=0.1)  # the overconfidence that was put in


def test_calibration_error_is_the_weighted_gap_between_confidence_and_accuracy():
    confidence = torch.tensor([0.95, 0.95, 0.95, 0.95, 0.55, 0.55])
    correct = torch.tensor([True, True, False, False, True, True])
    # Bin of 0.95: accuracy 0.5 (gap 0.45, 4 images); bin of 0.55: accuracy 1 (gap 0.45, 2 images).
    assert calibration.calibration_error(confidence, correct) == pytest.approx(0.45)
    rows = calibration.coverage_curve(confidence, correct, points=3)
    assert [(r["threshold"], r["coverage"]) for r in rows] == [(0.0, 1.0), (0.5, 1.0), (1.0, 0.0)]
    assert rows[0]["accuracy"] == pytest.approx(4 / 6) and rows[2]["accuracy"] is None


def test_fitted_on_validation_alone_it_makes_an_overconfident_model_honest_there():
    val, other = _overconfident(seed=1), _overconfident(factor=6.0, seed=2)
    report = calibration.calibration_report({"id": val, "sketch": other})
    fitted_on_val = calibration.fit_temperature(*val)
    assert report["temperature"] == pytest.approx(fitted_on_val)  # never on the other set
    s = report["sets"]["id"]
    assert s["calibration_error"] > 0.1 and s["calibration_error_calibrated"] < 0.03
    assert report["sets"]["sketch"]["calibration_error_calibrated"] > s["calibration_error_calibrated"]
    bins = s["reliability"]
    assert sum(b["n"] for b in bins) == 2000 and len(bins) == calibration.BINS


def test_the_coverage_curves_give_the_share_kept_above_each_confidence_and_its_accuracy():
    logits, labels = _overconfident(n=400, seed=3)
    s = calibration.calibration_report({"id": (logits, labels)})["sets"]["id"]
    raw = logits.softmax(-1).max(-1)
    correct = raw.indices == labels
    for row in s["coverage_uncalibrated"]:  # the confidence predictions give: what `_uncertain/` compares
        kept = raw.values >= row["threshold"]
        assert row["coverage"] == pytest.approx(float(kept.float().mean()))
        assert row["accuracy"] == (pytest.approx(float(correct[kept].float().mean())) if kept.any() else None)
    first, half = s["coverage"][0], next(r for r in s["coverage"] if r["threshold"] == pytest.approx(0.5))
    assert first["coverage"] == 1 and half["coverage"] < 1 and half["accuracy"] > first["accuracy"]


def test_the_summary_and_the_card_give_the_coverage_of_the_calibrated_confidence():
    """What run.json, flyp.json and the model card keep: the share kept above 50/70/90% of the
    confidence predictions give (calibrated), the raw one beside it as `coverage_uncalibrated`."""
    from core.export.card import calibration_lines
    from core.trust.fitting import calibration_summary

    logits, labels = _overconfident(n=1000, seed=4)
    report = calibration.calibration_report({"id": (logits, labels)}) | {"alpha": 1.0}
    summary = calibration_summary(report)["sets"]["id"]
    at = {round(r["threshold"], 2): r for r in summary["coverage"]}
    raw = {round(r["threshold"], 2): r for r in summary["coverage_uncalibrated"]}
    assert set(at) == set(raw) == {0.5, 0.7, 0.9}
    confidence = (logits / report["temperature"]).softmax(-1).max(-1).values
    assert at[0.9]["coverage"] == pytest.approx(float((confidence >= 0.9).float().mean()))
    assert raw[0.9]["coverage"] > at[0.9]["coverage"] + 0.1  # overconfident: the raw keeps far more
    card = "\n".join(calibration_lines(calibration_summary(report)))
    assert f"{at[0.9]['coverage']:.0%}, {at[0.9]['accuracy']:.1%}" in card

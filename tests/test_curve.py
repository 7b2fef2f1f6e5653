"""The best α: one rule for the CLI, the demo, the Compare table and the app."""

from core.weights.curve import best_alpha


def point(alpha, id_acc, ood_acc):
    return {"alpha": alpha, "sets": {"id": {"accuracy": id_acc}, "sketch": {"accuracy": ood_acc}}}


def test_the_best_alpha_is_chosen_on_validation_never_on_different_conditions():
    curve = [point(0.0, 0.50, 0.90), point(0.5, 0.80, 0.85), point(1.0, 0.79, 0.40)]
    assert best_alpha(curve)["alpha"] == 0.5
    curve = [point(0.0, 0.50, 0.90), point(0.5, 0.70, 0.95), point(1.0, 0.80, 0.10)]
    assert best_alpha(curve)["alpha"] == 1.0  # OOD falls, but validation decides


def test_ties_go_to_the_smaller_alpha_whatever_the_other_sets_say():
    curve = [point(0.0, 0.5, 0.9), point(0.4, 0.8, 0.6), point(0.6, 0.8, 0.7), point(1.0, 0.8, 0.9)]
    assert best_alpha(curve)["alpha"] == 0.4


def test_a_curve_without_validation_is_judged_on_its_first_set():
    curve = [{"alpha": a, "sets": {"photos": {"accuracy": acc}}} for a, acc in [(0.0, 0.3), (0.5, 0.6), (1.0, 0.5)]]
    assert best_alpha(curve)["alpha"] == 0.5

"""Advice after a run, from synthetic metric curves: each rule, and the change it proposes."""

import math

from core.training.advice import advise, advise_from

CLASSES = [f"class{i}" for i in range(5)]


def run(curve: list[float], losses: list[float], n: int = 400, zero_shot: float = 0.40, per_class=None,
        **config) -> tuple[dict, list[dict]]:
    """run.json's content and metrics records of a run: one evaluation per epoch with ID accuracy
    `curve[i]` after epoch i + 1, `len(losses)` steps spread over the epochs."""
    config = {"model": "demo", "method": "flyp", "lr": 1e-4, "epochs": len(curve), "val_dir": "val",
              "val_fraction": 0.2} | config
    per_epoch = max(1, len(losses) // len(curve))
    records = [{"type": "eval", "step": 0, "epoch": 0.0, "sets": {"id": {"accuracy": zero_shot, "n": n}}}]
    for step, loss in enumerate(losses, start=1):
        records.append({"type": "step", "step": step, "epoch": step / per_epoch, "loss": loss})
        if step % per_epoch == 0 and step // per_epoch <= len(curve):
            accuracy = curve[step // per_epoch - 1]
            scores = {"accuracy": accuracy, "n": n}
            if per_class is not None:
                scores["per_class"] = per_class
            records.append({"type": "eval", "step": step, "epoch": step / per_epoch, "sets": {"id": scores}})
    info = {"config": config, "zeroshot": {"id": {"accuracy": zero_shot, "n": n}}, "status": "finished"}
    return info, records


def falling(steps: int, start: float = 2.0, end: float = 1.0) -> list[float]:
    return [start + (end - start) * i / (steps - 1) for i in range(steps)]


def kinds(advice) -> list[str]:
    return [a.kind for a in advice]


def test_a_good_run_gets_no_advice():
    assert advise_from(*run([0.80, 0.86, 0.88, 0.885], falling(40))) == []


def test_a_nan_loss_asks_for_a_ten_times_lower_learning_rate():
    info, records = run([0.1], falling(10), lr=1.0)
    info |= {"status": "failed", "error": "the loss became nan at step 11; training stopped", "nan_loss": True}
    (advice,) = advise_from(info, records)
    assert advice.kind == "diverged" and "NaN" in advice.finding
    assert advice.change == {"lr": 1e-4}  # a tenth of 1 is still far too high: the demo model's usual value


def test_a_rising_loss_asks_for_a_lower_learning_rate():
    advice = advise_from(*run([0.3, 0.2, 0.1], falling(30, 2.0, 3.5), lr=3e-3))
    assert kinds(advice) == ["diverged"] and advice[0].change == {"lr": 3e-4}
    assert "rose" in advice[0].finding


def test_accuracy_collapsing_below_zero_shot_is_divergence_too():
    """The issue's lr 1 case: 9.5% after training against a better zero-shot, the loss flat."""
    (advice,) = advise_from(*run([0.12, 0.10, 0.095], [2.3] * 30, zero_shot=0.45, lr=1.0))
    assert advice.kind == "diverged" and advice.change == {"lr": 1e-4} and "45.0%" in advice.finding


def test_a_run_that_barely_moved_asks_for_a_higher_learning_rate():
    """The issue's new-project defaults: lr 1e-5 left the demo model near zero-shot."""
    (advice,) = advise_from(*run([0.41, 0.41, 0.42], falling(30, 2.0, 1.95), lr=1e-5))
    assert advice.kind == "barely_moved" and advice.change == {"lr": 3e-5}


def test_at_the_top_of_the_learning_rates_that_work_it_asks_for_more_epochs_instead():
    (advice,) = advise_from(*run([0.41, 0.41, 0.42], falling(30, 2.0, 1.95), lr=2e-3))
    assert advice.kind == "barely_moved" and advice.change == {"epochs": 6}


def test_a_loss_that_fell_while_validation_stayed_asks_for_images_not_settings():
    """The demo model on its photos: FLYP's loss fell by a tenth, validation moved by two points;
    a higher learning rate does not help there (benchmarks/README.md), more images do."""
    (advice,) = advise_from(*run([0.62, 0.63, 0.63, 0.64], falling(40, 3.2, 2.8), zero_shot=0.617, n=480))
    assert advice.kind == "barely_moved" and advice.change == {}
    assert "the training loss fell (3.16 → 2.84)" in advice.finding and "More labelled images" in advice.hint


def test_still_rising_at_the_end_asks_for_more_epochs():
    (advice,) = advise_from(*run([0.6, 0.7, 0.8, 0.9], falling(40), epochs=4))
    assert advice.kind == "still_rising" and advice.change == {"epochs": 8} and "80.0% → 90.0%" in advice.finding


def test_validation_falling_while_the_loss_falls_asks_for_fewer_epochs():
    (advice,) = advise_from(*run([0.80, 0.90, 0.84, 0.78, 0.75], falling(50, 2.0, 0.2)))
    assert advice.kind == "overfitting" and advice.change == {"epochs": 2} and "epoch 2" in advice.finding


def test_noise_is_not_advice():
    """Half a point down at the end on 400 images is within the figure's uncertainty."""
    assert advise_from(*run([0.80, 0.90, 0.895], falling(30))) == []


def test_too_few_validation_images_say_how_many_and_how_uncertain():
    advice = advise_from(*run([0.80, 0.86, 0.88, 0.885], falling(40), n=30, zero_shot=0.4, val_dir=None))
    few = next(a for a in advice if a.kind == "few_validation_images")
    assert "30 images" in few.finding and "95% interval" in few.finding
    assert few.change == {"val_fraction": 0.3}  # no validation folder: a larger held-out share
    with_folder = advise_from(*run([0.80, 0.86, 0.88, 0.885], falling(40), n=30))
    assert next(a for a in with_folder if a.kind == "few_validation_images").change == {}


def test_one_class_far_below_the_others_is_named():
    per_class = dict(zip(CLASSES, [0.95, 0.9, 0.92, 0.2, 0.97]))
    (advice,) = advise_from(*run([0.80, 0.86, 0.88, 0.885], falling(40), per_class=per_class))
    assert advice.kind == "weak_class" and "class3" in advice.finding and "captions" in advice.hint
    assert advice.change == {}


def test_the_linear_probe_has_no_curve_to_advise_on():
    assert advise_from(*run([0.3], [math.nan], method="lp")) == []


def test_advice_reads_a_real_run_folder(flyp_run):
    advice = advise(flyp_run)
    assert all(a.finding and isinstance(a.change, dict) for a in advice)
    assert any(a.kind == "few_validation_images" and "24 images" in a.finding for a in advice)

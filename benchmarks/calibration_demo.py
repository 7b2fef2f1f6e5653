"""How far the confidence can be trusted on the demo: temperature scaling fitted on ID validation,
the calibration error of every set before and after it, and once the novelty score lowers the
confidence of unusual images as predictions do (`core.trust.lowering`).

    .venv/bin/python benchmarks/calibration_demo.py --run /tmp/novelty-bench/runs/flyp-seed0 [--alpha A]
                                                    [--digits /tmp/calibration-digits | --no-digits]

(A FLYP run of the demo, e.g. the one `flyp demo` or `benchmarks/novelty_methods.py` trains.) It
prints the factors fitted on ID validation; the cross-validated check of that choice on ID
validation alone (each fold lowered by factors fitted on the other folds, against T alone); per
set accuracy, mean confidence and calibration error; and the mean confidence on scikit-learn's
handwritten digits (none of the demo's classes). Nothing is fitted on the sketches, paintings or
digits: they are reported.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def held_out_check(scores, logits, labels, folds: int = 5) -> dict:
    """NLL and calibration error of the ID validation images, each fold with T (and the lowering)
    fitted on the other folds only, its tails taken among the other folds' scores."""
    import torch

    from core.trust import lowering
    from core.trust.calibration import calibration_error, fit_temperature

    fold = (torch.arange(len(labels)) + 2) % folds  # not the folds fit_lowering uses inside
    plain, lowered = torch.empty_like(logits), torch.empty_like(logits)
    for k in range(folds):
        held, rest = fold == k, fold != k
        t = fit_temperature(logits[rest], labels[rest])
        fitted = lowering.fit_lowering(scores[rest], logits[rest], labels[rest], t)
        g = 1.0 if fitted is None else fitted.factor(lowering.tail(scores[rest].sort().values, scores[held]))[:, None]
        plain[held], lowered[held] = logits[held] / t, logits[held] / (t * g)
    correct = logits.argmax(-1) == labels
    return {name: {"nll": float(torch.nn.functional.cross_entropy(x, labels)),
                   "error": calibration_error(x.softmax(-1).max(-1).values, correct)}
            for name, x in (("temperature alone", plain), ("with the lowering", lowered))}


def main() -> int:
    import torch

    from core.demo.probes import write_digit_folders
    from core.labelling.predictor import from_run
    from core.trust.fitting import calibration_summary, features_and_logits, measure_blend, run_samples
    from core.weights.blend import open_run, run_eval_sets
    from core.weights.curve import best_alpha, run_curve

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--alpha", type=float)
    parser.add_argument("--digits", type=Path, default=Path("/tmp/calibration-digits"))
    parser.add_argument("--no-digits", action="store_true", help="a run whose classes are the digits themselves")
    args = parser.parse_args()
    alpha = args.alpha if args.alpha is not None else best_alpha(run_curve(args.run))["alpha"]
    blended = open_run(args.run)
    predictor = from_run(blended, alpha)
    novelty = predictor.novelty_model()
    summary = calibration_summary(measure_blend(blended, run_eval_sets(blended.info), novelty))
    t = summary["temperature"]
    print(f"α = {alpha:g}, temperature {t:.3f} (fitted on ID validation); lowering {novelty.lowering}\n")

    _, val, _ = run_samples(blended.info)
    features, logits, kept = features_and_logits(predictor, [s.path for s in val])
    labels = torch.tensor([val[i].label for i in kept])
    check = held_out_check(novelty.score(features, logits), logits, labels)
    print("ID validation, 5 folds, each fitted on the others:\n| rule | NLL | calibration error |\n|---|---|---|")
    for name, row in check.items():
        print(f"| {name} | {row['nll']:.3f} | {row['error']:.3f} |")

    print("\n| set | accuracy | mean confidence (T) | lowered | calibration error | after temperature | "
          "lowered | known |\n|---|---|---|---|---|---|---|---|")
    for name, s in summary["sets"].items():
        print(f"| {name} | {s['accuracy']:.1%} | {s['mean_confidence']:.2f} | "
              f"{s['mean_confidence_with_novelty']:.2f} | "
              f"{s['calibration_error']:.3f} | {s['calibration_error_calibrated']:.3f} | "
              f"{s['calibration_error_with_novelty']:.3f} | {s.get('known', float('nan')):.1%} |")

    if args.no_digits:
        return 0
    digits = sorted(write_digit_folders(args.digits)["val"].rglob("*.png"))
    features, logits, _ = features_and_logits(predictor, digits)
    scores = novelty.score(features, logits)
    before = (logits / t).softmax(-1).max(-1).values
    after = (logits / (t * novelty.factor(scores)[:, None])).softmax(-1).max(-1).values
    print(f"\ndigits (none of the classes, {len(digits)} images): mean confidence {float(before.mean()):.2f} with T, "
          f"{float(after.mean()):.2f} lowered; known {float(novelty.known(scores).float().mean()):.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

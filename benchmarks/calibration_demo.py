"""How far the confidence can be trusted on the demo: temperature scaling fitted on ID validation,
the calibration error of every set before and after it, and with the novelty score lowering it.

    .venv/bin/python benchmarks/calibration_demo.py --run /tmp/novelty-bench/runs/flyp-seed0 [--alpha A]

(A FLYP run of the demo, e.g. the one `benchmarks/novelty_methods.py` trains.) Nothing is fitted on
the sketches and paintings: they are reported.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    from core.labelling.predictor import from_run
    from core.trust.fitting import calibration_summary, measure_blend
    from core.weights.blend import open_run, run_eval_sets
    from core.weights.curve import best_alpha, run_curve

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--alpha", type=float)
    args = parser.parse_args()
    alpha = args.alpha if args.alpha is not None else best_alpha(run_curve(args.run))["alpha"]
    blended = open_run(args.run)
    novelty = from_run(blended, alpha).novelty_model()
    summary = calibration_summary(measure_blend(blended, run_eval_sets(blended.info), novelty))
    print(f"α = {alpha:g}, temperature {summary['temperature']:.3f} (fitted on ID validation)\n")
    print("| set | accuracy | mean confidence | calibration error | after temperature | with novelty |\n|---|---|---|---|---|---|")
    for name, s in summary["sets"].items():
        print(f"| {name} | {s['accuracy']:.1%} | {s['mean_confidence']:.2f} | {s['calibration_error']:.3f} | "
              f"{s['calibration_error_calibrated']:.3f} | {s['calibration_error_with_novelty']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

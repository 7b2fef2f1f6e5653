"""How well a run is calibrated at an α that was never exported: the temperature interpolated (in
log T) between the α curve's points, 0.1 apart, against one fitted on ID validation at that α itself.

    .venv/bin/python benchmarks/calibration_any_alpha.py --run RUN

(RUN: a run of the demo, e.g. `flyp demo`'s runs/flyp-seed0; copy it first, the curve is cached
in it.) At α = 0.05, 0.15, … 0.95 it prints both temperatures and the calibration error (ECE, 15
bins) of the raw softmax, of the interpolated T and of the fitted T, on ID validation and on each
different-conditions set. Every T is fitted on ID validation only; the other sets are reported.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    import torch

    from core.trust.calibration import calibration_error, fit_temperature
    from core.trust.temperature import curve_temperature
    from core.weights.blend import blend_logits, open_run, run_eval_sets
    from core.weights.curve import run_curve

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    args = parser.parse_args()
    blended = open_run(args.run)
    sets = run_eval_sets(blended.info)
    curve = run_curve(args.run, sets=sets, blended=blended)

    def ece(logits, labels, t):
        probs = (logits.float() / t).softmax(-1).max(-1)
        return calibration_error(probs.values, probs.indices == labels)

    names = list(sets)
    columns = " | ".join(f"{n}: raw / interp. / fitted" for n in names)
    print(f"| α | T interpolated | T fitted there | {columns} |")
    print("|---" * (3 + len(names)) + "|")
    for alpha in [round(0.05 + i / 10, 2) for i in range(10)]:
        logits = blend_logits(blended, sets, alpha)
        labels = {n: torch.as_tensor(sets[n].labels) for n in names}
        fitted, interpolated = fit_temperature(logits["id"], labels["id"]), curve_temperature(curve, alpha)
        cells = [f"{ece(logits[n], labels[n], 1.0):.3f} / {ece(logits[n], labels[n], interpolated):.3f} / "
                 f"{ece(logits[n], labels[n], fitted):.3f}" for n in names]
        print(f"| {alpha:.2f} | {interpolated:.3f} | {fitted:.3f} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

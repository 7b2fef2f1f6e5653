"""`flyp forgetting`: what finetuning forgot — a control set's zero-shot accuracy along α."""

from __future__ import annotations

from pathlib import Path

from core.cli.output import emit, shown
from core.errors import FlypError


def forgetting(args) -> int:
    from core.model.loading import select_device
    from core.trust.forgetting import balance_keeping, control_curve, forgotten
    from core.weights.blend import open_run
    from core.weights.curve import run_curve

    run = Path(args.run).expanduser()
    if not (run / "run.json").is_file():
        raise FlypError(f"{run}: not a run folder (no run.json in it)")
    blended = open_run(run, "best", select_device(args.device))
    curve = run_curve(run, blended=blended)  # the ID/OOD α-curve, cached in the run folder
    control = control_curve(blended, Path(args.control).expanduser())
    ids = {round(p["alpha"], 6): p["sets"].get("id", {}).get("accuracy") for p in curve}
    rows = [{"alpha": p["alpha"], "control_accuracy": p["accuracy"], "forgotten_points": forgotten(control, p["alpha"]),
             "id_accuracy": ids.get(round(p["alpha"], 6))} for p in control["curve"]]
    result = {"control": control["folder"], "classes": control["classes"], "n": control["n"],
              "zero_shot": control["zero_shot"], "curve": rows}
    lines = [f"control set {shown(control['folder'])}: {control['n']} images of {len(control['classes'])} classes, "
             f"zero-shot {control['zero_shot']:.1%}"]
    lines += [f"  α = {r['alpha']:.1f}: control {r['control_accuracy']:.1%} ({r['forgotten_points']:+.1f} points "
              f"forgotten), validation {r['id_accuracy']:.1%}" if r["id_accuracy"] is not None else
              f"  α = {r['alpha']:.1f}: control {r['control_accuracy']:.1%}" for r in rows]
    if args.keep_within is not None:
        chosen = balance_keeping(curve, control, args.keep_within)
        result["balance_keeping"] = {"points": args.keep_within, "alpha": chosen["alpha"]}
        lines.append(f"best balance keeping the control set within {args.keep_within:g} points of zero-shot: "
                     f"α = {chosen['alpha']:.1f}")
    emit(args, result, "\n".join(lines))
    return 0

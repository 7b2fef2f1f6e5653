"""The `flyp soup` and `flyp compare` verbs (parsing lives in `core.cli.parser`)."""

from __future__ import annotations

import sys

from core.cli.output import bar, emit, shown


def soup(args) -> int:
    from core.model.loading import select_device
    from core.weights.soups import make_soup

    say = (lambda e: None) if args.json else \
        (lambda e: print(shown(e["message"]), file=sys.stderr) if e.get("type") == "status" else None)
    info = make_soup(args.runs, args.out, greedy=args.greedy, which=args.checkpoint,
                     device=select_device(args.device), on_event=say)
    soup_info, best = info["soup"], info["best"]
    scores = "  ".join(f"{name} {m['accuracy']:.1%}" for name, m in best["sets"].items())
    emit(args, {"run": args.out, "soup": soup_info, "zeroshot": info["zeroshot"], "best": best},
         f"{soup_info['kind']} soup of {len(soup_info['ingredients'])} of {len(soup_info['runs'])} run(s): {scores}\n"
         f"saved in {shown(args.out)} (blend, evaluate, export it as any run)")
    return 0


def compare(args) -> int:
    from core.weights.compare import compare_runs, expand_runs, format_table
    from core.model.loading import select_device

    runs = expand_runs(args.runs)
    rows = compare_runs(runs, select_device(args.device), compute=not args.cached_only,
                        progress=bar("Comparing runs", args))
    emit(args, {"runs": rows}, format_table(rows))
    return 0


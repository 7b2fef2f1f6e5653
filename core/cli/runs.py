"""The verbs that use a finished run: `flyp evaluate`, `flyp blend`, `flyp export`, `flyp predict`."""

from __future__ import annotations

import sys
from pathlib import Path

from core.cli.output import bar, emit, metrics_text, shown
from core.errors import FlypError


def evaluate(args) -> int:
    from core.weights.blend import open_run
    from core.data.folders import scan_folder
    from core.data.loader import EvalImages
    from core.model.loading import select_device

    blended = open_run(args.run, args.checkpoint, select_device(args.device))
    blended.set_alpha(args.alpha)
    report = scan_folder(args.data, progress=bar("Scanning", args))
    index = {name: i for i, name in enumerate(blended.info["classes"])}
    unknown = [c for c in report.classes if c not in index]
    if unknown:
        raise FlypError(f"{args.data}: class folder(s) {', '.join(unknown[:5])} are not classes of this run")
    from core.data.folders import Sample

    samples = [Sample(s.path, index[report.classes[s.label]]) for s in report.samples]
    if not samples:
        raise FlypError(f"{args.data}: no usable images")
    loaded = blended.classifier.loaded
    images = EvalImages(samples, loaded.image_size, loaded.preprocess["interpolation"])
    metrics = blended.classifier.evaluate(images, progress=bar("Evaluating", args)).to_json(full=True)
    emit(args, metrics | {"alpha": args.alpha}, metrics_text(f"{shown(args.run)} at α={args.alpha:g} on {shown(args.data)}", metrics))
    return 0


def blend(args) -> int:
    from core.weights.blend import alpha_curve, open_run, parse_alphas, run_eval_sets
    from core.model.loading import select_device

    alphas = parse_alphas(args.alphas)
    blended = open_run(args.run, args.checkpoint, select_device(args.device))
    sets = run_eval_sets(blended.info)
    curve = alpha_curve(blended, sets, alphas, progress=bar("Blending", args))
    names = list(sets)
    rows = [f"{'α':>5}  " + "  ".join(f"{shown(n)[:12]:>12}" for n in names)]
    rows += [f"{p['alpha']:>5.2f}  " + "  ".join(f"{p['sets'][n]['accuracy']:>12.1%}" for n in names) for p in curve]
    emit(args, {"run": args.run, "curve": curve}, "accuracy by weight-ensembling α (0 = zero-shot, 1 = finetuned)\n"
         + "\n".join(rows))
    return 0


def export(args) -> int:
    from core.export.write import export_bundle
    from core.weights.blend import alpha_curve, open_run, parse_alphas, run_eval_sets
    from core.weights.curve import best_alpha
    from core.model.loading import select_device

    blended = open_run(args.run, args.checkpoint, select_device(args.device))
    sets = run_eval_sets(blended.info)
    alphas = [args.alpha] if args.alpha is not None else parse_alphas("0:1:0.1")
    curve = alpha_curve(blended, sets, alphas, progress=bar("Choosing α", args))
    best = best_alpha(curve)
    blended.set_alpha(best["alpha"])
    metrics = {name: {k: m[k] for k in ("accuracy", "macro_f1", "n")} for name, m in best["sets"].items()}
    report = export_bundle(blended, args.out, onnx=args.onnx, metrics=metrics)
    emit(args, report | {"alpha": best["alpha"], "metrics": metrics},
         f"exported α={best['alpha']:g} to {shown(args.out)}; self-check: {report['verified_images']} images, "
         f"same predictions, max probability difference {report['max_probability_difference']:.1e}")
    return 0


def predict(args) -> int:
    from core.export.bundle import load_bundle
    from core.data.images import is_image_name
    from core.model.loading import select_device

    if args.top_k < 1:
        raise FlypError("--top-k must be at least 1")
    bundle = load_bundle(args.bundle, select_device(args.device))
    paths = []
    for item in map(Path, args.images):
        if item.is_dir():
            paths += sorted(p for p in item.rglob("*") if p.is_file() and is_image_name(p))
        elif item.exists():
            paths.append(item)
        else:
            raise FlypError(f"{item}: no such file")
    results, failed = [], []
    for path in paths:
        try:
            top = bundle.predict([path], args.top_k)[0]
            results.append({"path": str(path), "top_k": [{"class": c, "probability": p} for c, p in top]})
        except FlypError as exc:
            failed.append({"path": str(path), "reason": str(exc).removeprefix(f"{path}: ")})
    lines = [f"{shown(r['path'])}: " + ", ".join(f"{shown(t['class'])} {t['probability']:.1%}" for t in r["top_k"])
             for r in results]
    emit(args, {"predictions": results, "skipped": failed}, "\n".join(lines))
    for f in failed:
        print(f"flyp: error: {shown(f['path'])}: {shown(f['reason'])}", file=sys.stderr)
    return 2 if failed else 0

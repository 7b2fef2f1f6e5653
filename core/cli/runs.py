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
    from core.export.write import export_bundle, measure_for_export
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
    novelty, calibration = measure_for_export(args.run, blended, sets)
    report = export_bundle(blended, args.out, onnx=args.onnx, metrics=metrics, novelty=novelty, calibration=calibration)
    emit(args, report | {"alpha": best["alpha"], "metrics": {**({"test": report["test"]} if "test" in report else {}),
                                                               **metrics}, "calibration": calibration},
         f"exported α={best['alpha']:g} to {shown(args.out)}; self-check: {report['verified_images']} images, "
         f"same predictions, max probability difference {report['max_probability_difference']:.1e}"
         + (f"; test accuracy {report['test']['accuracy']:.1%} on {report['test']['n']} images (the figure to quote)"
            if "test" in report else ""))
    return 0


def predict(args) -> int:
    from core.labelling.classify import classify_files, image_files, sort_into, write_csv
    from core.labelling.files import check_writable
    from core.labelling.predictor import open_predictor
    from core.model.loading import select_device

    # --top-k, --batch-size, --min-confidence and --alpha are bounded when the options are parsed
    for folder in ([Path(args.csv).expanduser().parent] if args.csv else []) + (
            [Path(args.sort_into)] if args.sort_into else []):
        check_writable(folder)  # before the work, not after it
    predictor = open_predictor(args.bundle, args.alpha, select_device(args.device))
    paths = image_files(args.images)
    predictions = [p for batch in classify_files(paths, predictor, top_k=args.top_k, batch_size=args.batch_size,
                                                 progress=bar("Classifying", args)) for p in batch]
    report = {"predictions": [p.to_json() for p in predictions if not p.reason],
              "skipped": [{"path": str(p.path), "reason": p.reason} for p in predictions if p.reason],
              "model": predictor.description, "calibrated": predictor.calibrated,
              "temperature": predictor.temperature, "warnings": predictor.warnings()}
    lines = [f"{shown(p.path)}: " + ("none of these classes (closest: " if p.known is False else "")
             + ", ".join(f"{shown(c)} {q:.1%}" for c, q in p.top) + (")" if p.known is False else "")
             + (f" (less sure of this unusual image: {100 * p.lowered_by:.0f} points less)"
                if p.lowered_by is not None and p.lowered_by >= 0.005 else "")
             for p in predictions if not p.reason]
    failed = [(s["path"], s["reason"]) for s in report["skipped"]]
    if args.csv:
        write_csv(predictions, args.csv, min(args.top_k, len(predictor.class_names)))
        report["csv"] = args.csv
        lines.append(f"{len(predictions)} rows written to {args.csv}")
    if args.sort_into:
        sorted_ = sort_into(predictions, args.sort_into, args.min_confidence, progress=bar("Sorting", args))
        report["sorted"] = sorted_.to_json()
        failed += sorted_.failed
        counts = ", ".join(f"{name} {n}" for name, n in sorted(sorted_.copied.items()))
        lines.append(f"copied into {args.sort_into}: {counts or 'nothing'}")
    emit(args, report, "\n".join(lines))
    for warning in report["warnings"]:
        print(f"flyp: warning: {warning}", file=sys.stderr)
    for path, reason in failed:
        print(f"flyp: error: {shown(path)}: {shown(reason)}", file=sys.stderr)
    return 2 if failed else 0

"""The verbs that look at data and models: `flyp scan`, `flyp zeroshot`, `flyp models`."""

from __future__ import annotations

import sys

from core.cli.output import bar, emit, metrics_text, shown
from core.errors import FlypError


def scan(args) -> int:
    from core.data.folders import scan_folder

    report = scan_folder(args.dir, progress=bar("Scanning", args))
    data = report.to_json()
    try:
        report.check_usable()
        data["usable"], problem = True, None
    except FlypError as exc:
        data["usable"], problem = False, str(exc)
    lines = [f"{shown(report.root)}: {len(report.samples)} images in {len(report.classes)} classes"]
    lines += [f"  {shown(name):<24} {count:>6}" for name, count in report.counts().items()]
    if report.skipped or report.warnings:
        lines.append(f"{len(report.skipped)} file(s) skipped, {len(report.warnings)} warning(s):")
        lines += [f"  {shown(p.path)}: {shown(p.reason)}" for p in report.skipped + report.warnings]
    emit(args, data, "\n".join(lines))
    if problem:
        print(f"flyp: error: {shown(problem)}", file=sys.stderr)
        return 2
    return 0


def zeroshot(args) -> int:
    from core.data.captions import load_class_names, load_templates, resolve_class_names
    from core.model.classifier import Classifier
    from core.data.folders import scan_folder
    from core.data.loader import EvalImages
    from core.model.loading import ModelSpec, load_model, select_device

    templates = load_templates(args.templates)
    report = scan_folder(args.data, progress=bar("Scanning", args))
    report.check_usable()
    names = resolve_class_names(report.classes, load_class_names(args.class_names) if args.class_names else None)
    loaded = load_model(ModelSpec(args.model, args.pretrained), select_device(args.device))
    classifier = Classifier(loaded, names, templates)
    images = EvalImages(report.samples, loaded.image_size, loaded.preprocess["interpolation"])
    metrics = classifier.evaluate(images, progress=bar("Evaluating", args))
    emit(args, metrics.to_json(full=True) | {"skipped": [p.to_json() for p in report.skipped]},
         metrics_text(f"zero-shot {shown(loaded.spec)} on {shown(report.root)}", metrics.to_json(full=True)))
    return 0


def models(args) -> int:
    import open_clip

    from core.model.hub import DOMAIN_MODELS
    from core.model.loading import list_architectures

    tags = {name: open_clip.list_pretrained_tags_by_model(name) for name in list_architectures()}
    emit(args, {"demo": "the embedded demo model", **tags, **DOMAIN_MODELS},
         "demo  (embedded, offline)\n" + "\n".join(f"{n}  {', '.join(t)}" for n, t in tags.items() if t)
         + "\n\nDomain models on the Hugging Face Hub (any hf-hub:ORG/NAME of an open_clip model works):\n"
         + "\n".join(f"{n}  {line}" for n, line in DOMAIN_MODELS.items()))
    return 0

"""The `flyp check` verb: suspicious labels, near-duplicates, bad images, shortcuts and class warnings of labelled folders."""

from __future__ import annotations

from pathlib import Path

from core.cli.output import bar, emit, shown
from core.errors import FlypError

SHOWN = 20  # suspicious images and pairs printed in the text output (--json has them all)


def check(args) -> int:
    from core.checks.duplicates import THRESHOLD
    from core.checks.report import check_folders
    from core.data.captions import validate_concept

    if args.run and args.model != "demo":
        raise FlypError("--run and --model: give one of them (a run brings its own model)")
    if args.threshold is None:
        args.threshold = THRESHOLD
    if not 0.0 < args.threshold <= 1.0:
        raise FlypError(f"--threshold must be above 0 and at most 1 (got {args.threshold})")
    concepts = [validate_concept(c, where="--concept") for c in args.concept or []]
    excluded, kept, own = _reviewed(args.project)
    predictor = _predictor(args)
    report = check_folders(args.dir, predictor, val_dir=args.val, ood_dirs=args.ood or [], exclude=excluded, kept=kept,
                           zero_shot=not args.run, threshold=args.threshold,
                           concepts=list(dict.fromkeys(own + concepts)), progress=bar("Checking", args))
    emit(args, report.to_json(), _text(report))
    return 0


def _reviewed(project: str | None) -> tuple[list[str], list[str], list[str]]:
    """The images a project leaves out of training, those it keeps as they are (a loaded
    project's paths are absolute) and the user's own shortcut concepts saved with it."""
    if not project:
        return [], [], []
    from core.project import load_project

    loaded = load_project(project)
    return loaded.excluded, loaded.kept, loaded.shortcut_concepts


def _predictor(args):
    from core.data.captions import load_class_names, load_templates, resolve_class_names
    from core.data.folders import scan_folder
    from core.labelling import predictor as predictors
    from core.model.loading import ModelSpec, load_model, select_device

    device = select_device(args.device)
    if args.run:
        if args.alpha is not None and not 0.0 <= args.alpha <= 1.0:
            raise FlypError(f"--alpha must be between 0 and 1 (got {args.alpha})")
        if not (Path(args.run) / "run.json").is_file():
            raise FlypError(f"--run {args.run}: not a run folder (no run.json in it)")
        return predictors.open_predictor(args.run, args.alpha, device)
    classes = scan_folder(args.dir, verify=False).classes
    names = resolve_class_names(classes, load_class_names(args.class_names) if args.class_names else None)
    loaded = load_model(ModelSpec(args.model, args.pretrained), device)
    return predictors.zero_shot(loaded, classes, load_templates(args.templates), names)


def _text(report) -> str:
    lines = [f"{report.images} images checked with {report.model}"]
    lines.append(f"\n{len(report.suspicious)} suspicious label(s), most suspicious first"
                 + (f" ({report.kept} kept as they are not listed)" if report.kept else "") + ":")
    if note := report.ranking_note():
        lines.append(f"  ({note})")
    lines += [f"  {s.score_text() if report.trusted else '  – ':>6}  {shown(s.path)}  filed under {shown(repr(s.label))}, "
              f"looks like {shown(repr(s.likely))}" for s in report.suspicious[:SHOWN]]
    lines.append(f"\n{len(report.near_duplicates)} near-duplicate pair(s):")
    lines += [f"  {d.similarity:.3f}  {d.kind:<18}  {shown(d.a)}  ~  {shown(d.b)}"
              for d in report.near_duplicates[:SHOWN]]
    if len(report.suspicious) > SHOWN or len(report.near_duplicates) > SHOWN:
        lines.append(f"(the first {SHOWN} of each; --json lists them all)")
    lines += _quality_text(report.quality)
    lines.append(f"\n{len(report.shortcuts)} possible shortcut(s)" + (", strongest first:" if report.shortcuts else ""))
    for c in report.shortcuts:
        lines += [f"  '{c.concept}' in {c.class_name!r}: {c.share_in_class:.0%} of its images, "
                  f"{c.share_elsewhere:.0%} of the others'", f"    → {c.advice}"]
        lines += [f"    {shown(path)}" for path in c.images[:5]]
    lines.append(f"\n{len(report.warnings)} warning(s):" if report.warnings else "\nno warnings")
    for w in report.warnings:
        lines += [f"  {shown(w.message)}", f"    → {shown(w.advice)}"]
    return "\n".join(lines)


def _quality_text(found) -> list[str]:
    from core.checks.quality import ADVICE, ISSUES

    lines = [f"\n{len(found)} image(s) with a quality issue" + (":" if found else "")]
    for issue in ISSUES:
        listed = [q for q in found if q.issue == issue]
        if listed:
            lines.append(f"  {issue} ({len(listed)}; score: {ISSUES[issue]})  → {ADVICE[issue]}")
            lines += [f"    {q.score:.3f}  {shown(q.path)}" for q in listed[:SHOWN]]
    return lines

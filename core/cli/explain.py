"""`flyp explain`: heat maps of where the model looked, one PNG overlay per image."""

from __future__ import annotations

from pathlib import Path

from core.cli.output import emit, shown
from core.errors import FlypError, SettingError


def explain(args) -> int:
    from core import atomic
    from core.data.images import file_problem, load_rgb
    from core.model.loading import select_device
    from core.trust.explain import class_index, explain as explain_image, open_explainer, overlay

    if args.alpha is not None and not 0.0 <= args.alpha <= 1.0:
        raise SettingError("alpha", "between 0 and 1", args.alpha)
    problems = [(p, problem) for p in args.images if (problem := file_problem(Path(p).expanduser()))]
    if problems:
        raise FlypError(f"{problems[0][0]}: {problems[0][1]}; give image files")
    out = Path(args.out).expanduser()
    from core.labelling.files import check_writable

    check_writable(out)  # before the work, not after it
    explainer = open_explainer(args.bundle, args.alpha, select_device(args.device))
    if args.class_name is not None:
        class_index(explainer, args.class_name)  # an unknown class fails before any image
    results, lines = [], []
    for i, path in enumerate(map(Path, args.images)):
        e = explain_image(explainer, load_rgb(path), args.class_name, path)
        target = out / f"{i:04d}-{path.stem}.png"
        with atomic.atomic_path(target) as tmp:
            overlay(e).save(tmp, format="PNG")
        results.append(e.to_json(target))
        lines.append(f"{shown(path)}: {shown(e.class_name)}, looked most at x={e.peak[0]}, y={e.peak[1]} → {shown(target)}")
    emit(args, results, "\n".join(lines))
    return 0

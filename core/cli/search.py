"""The `flyp search` verb: a project's images ranked by similarity to a phrase or an example image."""

from __future__ import annotations

from pathlib import Path

from core.cli.output import bar, emit
from core.errors import FlypError

SHOWN = 20  # matches printed in the text output without --top


def search(args) -> int:
    from core.data.images import file_problem
    from core.explore.search import image_paths, search as ranked

    if (args.text is None) == (args.image is None):
        raise FlypError("give --text PHRASE or --image FILE (one of them)")
    if args.image is not None and (problem := file_problem(Path(args.image).expanduser())):
        raise FlypError(f"--image {args.image}: {problem}")
    paths = image_paths(args.dir)
    if not paths:
        raise FlypError(f"{', '.join(args.dir)}: no usable images found")
    predictor = model_predictor(args)
    matches = ranked(paths, predictor, text=args.text, image=args.image, top=args.top,
                     progress=bar("Searching", args))
    shown = matches if args.top else matches[:SHOWN]
    lines = [f"{len(paths)} images searched with {predictor.description}, most similar first:"]
    lines += [f"  {m.similarity:.3f}  {m.path}" for m in shown]
    if len(shown) < len(matches):
        lines.append(f"(the first {SHOWN}; --top N or --json for more)")
    emit(args, [m.to_json() for m in matches], "\n".join(lines))
    return 0


def model_predictor(args):
    """The predictor of --run (at --alpha) or of --model (zero-shot with --templates), for the
    image and text towers only (no classes)."""
    from core.data.captions import load_templates
    from core.labelling import predictor as predictors
    from core.model.loading import ModelSpec, load_model, select_device

    if args.run and args.model != "demo":
        raise FlypError("--run and --model: give one of them (a run brings its own model)")
    if args.alpha is not None and not args.run:
        raise FlypError("--alpha needs --run (it blends a run's weights)")
    device = select_device(args.device)
    if args.run:
        if not (Path(args.run) / "run.json").is_file():
            raise FlypError(f"--run {args.run}: not a run folder (no run.json in it)")
        return predictors.open_predictor(args.run, args.alpha, device)
    loaded = load_model(ModelSpec(args.model, args.pretrained), device)
    return predictors.zero_shot(loaded, [], load_templates(args.templates))

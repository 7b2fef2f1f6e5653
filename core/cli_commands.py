"""The verbs of the `flyp` command line (parsing lives in `core.cli`)."""

from __future__ import annotations

import sys
from pathlib import Path

from core.cli import emit, interrupt_cancels
from core.config import PRECISIONS, RUN_OPTIONS
from core.errors import FlypError


def scan(args) -> int:
    from core.data import scan_folder

    report = scan_folder(args.dir, progress=_bar("Scanning", args))
    data = report.to_json()
    try:
        report.check_usable()
        data["usable"], problem = True, None
    except FlypError as exc:
        data["usable"], problem = False, str(exc)
    lines = [f"{report.root}: {len(report.samples)} images in {len(report.classes)} classes"]
    lines += [f"  {name:<24} {count:>6}" for name, count in report.counts().items()]
    if report.skipped or report.warnings:
        lines.append(f"{len(report.skipped)} file(s) skipped, {len(report.warnings)} warning(s):")
        lines += [f"  {p.path}: {p.reason}" for p in report.skipped + report.warnings]
    emit(args, data, "\n".join(lines))
    if problem:
        print(f"flyp: error: {problem}", file=sys.stderr)
        return 2
    return 0


def zeroshot(args) -> int:
    from core.captions import load_class_names, load_templates, resolve_class_names
    from core.classifier import Classifier
    from core.data import scan_folder
    from core.loader import EvalImages
    from core.models import ModelSpec, load_model, select_device

    templates = load_templates(args.templates)
    report = scan_folder(args.data, progress=_bar("Scanning", args))
    report.check_usable()
    names = resolve_class_names(report.classes, load_class_names(args.class_names) if args.class_names else None)
    loaded = load_model(ModelSpec(args.model, args.pretrained), select_device(args.device))
    classifier = Classifier(loaded, names, templates)
    images = EvalImages(report.samples, loaded.image_size, loaded.preprocess["interpolation"])
    metrics = classifier.evaluate(images, progress=_bar("Evaluating", args))
    emit(args, metrics.to_json(full=True) | {"skipped": [p.to_json() for p in report.skipped]},
         _metrics_text(f"zero-shot {loaded.spec} on {report.root}", metrics.to_json(full=True)))
    return 0


def add_train_args(p, model_args, caption_args) -> None:
    model_args(p)
    p.add_argument("--train", metavar="DIR", help="training folder: one sub-folder of images per class")
    p.add_argument("--val", metavar="DIR", help="validation folder (default: a seeded split of --train)")
    p.add_argument("--val-fraction", type=float, default=0.2, help="share held out when there is no --val (0.2)")
    p.add_argument("--ood", metavar="DIR", action="append", default=[],
                   help="an extra labelled folder for 'different conditions' (repeatable)")
    caption_args(p)
    p.add_argument("--method", default="flyp",
                   help="flyp (default); baselines: ce (FT), lp (linear probe), lp-ft, l2sp; ablations: "
                        "flyp-frozen-text, ce-both (see the README)")
    p.add_argument("--epochs", type=int, default=10, help="passes over the training images (10)")
    p.add_argument("--batch-size", type=int, default=32, help="images per step = contrastive negatives (32)")
    p.add_argument("--micro-batch-size", type=int, default=None, metavar="M",
                   help="encode each batch M images at a time (per process), with a feature cache: the same "
                        "gradient as the whole batch in the memory of M images, for a second forward pass "
                        "(about 1.4–1.5× the time)")
    p.add_argument("--lr", type=float, default=1e-5, help="peak learning rate (1e-5, the paper's)")
    p.add_argument("--weight-decay", type=float, default=0.1, help="AdamW weight decay (0.1)")
    p.add_argument("--warmup", type=int, default=None, help="warmup steps (default: 10%% of all, at most 500)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")
    p.add_argument("--mask-same-class", action="store_true",
                   help="ablation: leave other images of the same class out of the negatives")
    p.add_argument("--l2sp-lambda", type=float, default=0.01, metavar="LAMBDA",
                   help="--method l2sp: strength of λ·‖θ − θ_pretrained‖² on the image encoder (0.01)")
    p.add_argument("--evals-per-epoch", type=int, default=1)
    p.add_argument("--workers", type=int, default=None, help="image loading processes (default: auto)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="the towers' arithmetic: auto (bf16 autocast on CUDA GPUs that support it, else fp32), "
                        "fp32, bf16 (default: auto)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the towers: slow first steps, faster long runs (needs a C++ compiler)")
    p.add_argument("--grad-checkpointing", action="store_true",
                   help="recompute transformer activations in the backward pass: less memory, about a third "
                        "more compute")
    p.add_argument("--checkpoint-every", type=int, default=None, metavar="STEPS",
                   help="save the resumable state every STEPS steps too (default: after each evaluation "
                        "and every 10 minutes)")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder to write (or to resume)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")


def train(args) -> int:
    from core.captions import load_class_names, load_templates
    from core.config import TrainConfig
    from core.progress import RunControl
    from core.train import train as run_training

    speed = {option: getattr(args, option) for option in RUN_OPTIONS}  # a resumed run takes these too
    if args.resume:
        config = TrainConfig(train_dir=args.train or ".", **speed)
    else:
        if not args.train:
            raise FlypError("--train DIR is required (or --resume to continue the run in --out)")
        config = TrainConfig(
            train_dir=args.train, model=args.model, pretrained=args.pretrained, val_dir=args.val,
            ood_dirs=args.ood, val_fraction=args.val_fraction, templates=load_templates(args.templates),
            class_names=load_class_names(args.class_names) if args.class_names else {}, method=args.method,
            epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
            warmup=args.warmup, seed=args.seed, mask_same_class=args.mask_same_class,
            l2sp_lambda=args.l2sp_lambda, evals_per_epoch=args.evals_per_epoch, **speed)
    control = RunControl()
    restore_signals = interrupt_cancels(control)
    from core.distributed import launched

    with launched(args.device) as ranks:  # several processes when started by torchrun
        display = _TrainDisplay(quiet=args.json or not ranks.is_main)
        try:
            info = run_training(config, args.out, resume=args.resume, on_event=display, control=control)
        finally:
            display.close()
            restore_signals()
    if not ranks.is_main:
        return 0  # rank 0 reports for all
    best = info.get("best") or {}
    emit(args, {"run": args.out, "status": info["status"], "zeroshot": info.get("zeroshot"), "best": best},
         f"finished: best ID accuracy {best.get('id_accuracy', 0):.1%} at step {best.get('step')}; run saved in {args.out}")
    return 0


class _TrainDisplay:
    """A progress bar with loss and ETA, and one line per evaluation."""

    def __init__(self, quiet: bool):
        self.quiet, self.bar = quiet, None

    def __call__(self, event: dict) -> None:
        kind = event["type"]
        if self.quiet:
            return
        if kind == "status":
            print(event["message"], file=sys.stderr)
        elif kind == "start":
            from tqdm import tqdm

            self.bar = tqdm(total=event["total_steps"], initial=event["step"], unit="step", file=sys.stderr,
                            dynamic_ncols=True, disable=None)
        elif kind == "step" and self.bar is not None:
            self.bar.update(event["step"] - self.bar.n)
            self.bar.set_postfix(loss=f"{event['loss']:.3f}", lr=f"{event['lr']:.2g}",
                                 img_s=f"{event['images_per_s']:.0f}", refresh=False)
        elif kind == "eval":
            text = "  ".join(f"{name} {m['accuracy']:.1%}" for name, m in event["sets"].items())
            line = f"step {event['step']:>6} (epoch {event['epoch']:.2f}): {text}{'  ★ best' if event.get('best') else ''}"
            (self.bar.write if self.bar is not None else lambda s: print(s, file=sys.stderr))(line)
        elif kind == "done" and event["status"] == "cancelled":
            print(f"\nstopped at step {event['step']}; continue with the same command and --resume", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def evaluate(args) -> int:
    from core.blend import open_run
    from core.data import scan_folder
    from core.loader import EvalImages
    from core.models import select_device

    blended = open_run(args.run, args.checkpoint, select_device(args.device))
    blended.set_alpha(args.alpha)
    report = scan_folder(args.data, progress=_bar("Scanning", args))
    index = {name: i for i, name in enumerate(blended.info["classes"])}
    unknown = [c for c in report.classes if c not in index]
    if unknown:
        raise FlypError(f"{args.data}: class folder(s) {', '.join(unknown[:5])} are not classes of this run")
    from core.data import Sample

    samples = [Sample(s.path, index[report.classes[s.label]]) for s in report.samples]
    if not samples:
        raise FlypError(f"{args.data}: no usable images")
    loaded = blended.classifier.loaded
    images = EvalImages(samples, loaded.image_size, loaded.preprocess["interpolation"])
    metrics = blended.classifier.evaluate(images, progress=_bar("Evaluating", args)).to_json(full=True)
    emit(args, metrics | {"alpha": args.alpha}, _metrics_text(f"{args.run} at α={args.alpha:g} on {args.data}", metrics))
    return 0


def blend(args) -> int:
    from core.blend import alpha_curve, open_run, parse_alphas, run_eval_sets
    from core.models import select_device

    alphas = parse_alphas(args.alphas)
    blended = open_run(args.run, args.checkpoint, select_device(args.device))
    sets = run_eval_sets(blended.info)
    curve = alpha_curve(blended, sets, alphas, progress=_bar("Blending", args))
    names = list(sets)
    rows = [f"{'α':>5}  " + "  ".join(f"{n[:12]:>12}" for n in names)]
    rows += [f"{p['alpha']:>5.2f}  " + "  ".join(f"{p['sets'][n]['accuracy']:>12.1%}" for n in names) for p in curve]
    emit(args, {"run": args.run, "curve": curve}, "accuracy by weight-ensembling α (0 = zero-shot, 1 = finetuned)\n"
         + "\n".join(rows))
    return 0


def export(args) -> int:
    from core.blend import alpha_curve, open_run, parse_alphas, run_eval_sets
    from core.export import export_bundle
    from core.models import select_device

    blended = open_run(args.run, args.checkpoint, select_device(args.device))
    sets = run_eval_sets(blended.info)
    alphas = [args.alpha] if args.alpha is not None else parse_alphas("0:1:0.1")
    curve = alpha_curve(blended, sets, alphas, progress=_bar("Choosing α", args))
    best = max(curve, key=lambda p: p["sets"].get("id", next(iter(p["sets"].values())))["accuracy"])
    blended.set_alpha(best["alpha"])
    metrics = {name: {k: m[k] for k in ("accuracy", "macro_f1", "n")} for name, m in best["sets"].items()}
    report = export_bundle(blended, args.out, onnx=args.onnx, metrics=metrics)
    emit(args, report | {"alpha": best["alpha"], "metrics": metrics},
         f"exported α={best['alpha']:g} to {args.out}; self-check: {report['verified_images']} images, "
         f"same predictions, max probability difference {report['max_probability_difference']:.1e}")
    return 0


def predict(args) -> int:
    from core.bundle import load_bundle
    from core.images import is_image_name
    from core.models import select_device

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
    lines = [f"{r['path']}: " + ", ".join(f"{t['class']} {t['probability']:.1%}" for t in r["top_k"]) for r in results]
    emit(args, {"predictions": results, "skipped": failed}, "\n".join(lines))
    for f in failed:
        print(f"flyp: error: {f['path']}: {f['reason']}", file=sys.stderr)
    return 2 if failed else 0


def models(args) -> int:
    import open_clip

    from core.models import list_architectures

    tags = {name: open_clip.list_pretrained_tags_by_model(name) for name in list_architectures()}
    emit(args, {"demo": "the embedded demo model", **tags},
         "demo  (embedded, offline)\n" + "\n".join(f"{n}  {', '.join(t)}" for n, t in tags.items() if t))
    return 0


def demo(args) -> int:
    from core import demo_story

    return demo_story.main(args)


def _metrics_text(title: str, m: dict) -> str:
    lines = [title, f"  accuracy {m['accuracy']:.1%}   macro-F1 {m['macro_f1']:.3f}   images {m['n']}"]
    lines += [f"  {name:<24} {acc:6.1%}" for name, acc in m.get("per_class", {}).items()]
    return "\n".join(lines)


def _bar(label: str, args):
    """A progress callable drawing a tqdm bar on a terminal (nothing in --json mode or in pipes)."""
    if getattr(args, "json", False) or not sys.stderr.isatty():
        return lambda done, total: None
    from tqdm import tqdm

    state = {}

    def progress(done: int, total: int) -> None:
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = tqdm(total=total, desc=label, file=sys.stderr, leave=False)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
    return progress

"""`flyp train`: finetune with FLYP (or a baseline) into a resumable run folder."""

from __future__ import annotations

import sys

from core.cli.output import emit, interrupt_cancels
from core.errors import FlypError
from core.training.config import RUN_OPTIONS


def train(args) -> int:
    from core.data.captions import load_class_names, load_templates
    from core.training.config import TrainConfig, settings
    from core.progress import RunControl
    from core.training.loop import train as run_training

    speed = {option: getattr(args, option) for option in RUN_OPTIONS}  # a resumed run takes these too
    if args.resume:
        config = TrainConfig(train_dir=args.train_dir or ".", **speed)
    else:
        if not args.train_dir:
            raise FlypError("«train_dir» DIR is required (or «resume» to continue the run in «out»)")
        options = {name: getattr(args, name) for name, s in settings().items() if s.cli}
        config = TrainConfig(**options, model=args.model, pretrained=args.pretrained,
                             templates=load_templates(args.templates),
                             class_names=load_class_names(args.class_names) if args.class_names else {})
    if args.project:
        from core.project import load_project

        load_project(args.project)  # a wrong project file stops here, before any training
    control = RunControl()
    restore_signals = interrupt_cancels(control)
    from core.training.distributed import launched

    with launched(args.device) as ranks:  # several processes when started by torchrun
        display = _TrainDisplay(quiet=args.json or not ranks.is_main)
        try:
            info = run_training(config, args.out, resume=args.resume, on_event=display, control=control)
        finally:
            display.close()
            restore_signals()
    if not ranks.is_main:
        return 0  # rank 0 reports for all
    if args.project:
        from core.project import add_runs_to_project

        try:
            add_runs_to_project(args.project, [args.out])
        except FlypError as exc:
            raise FlypError(f"{exc}; the run is saved in {args.out}: add it in the app with File ▸ Add run "
                            "folder…") from None
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

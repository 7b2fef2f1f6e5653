"""`flyp train`: finetune with FLYP (or a baseline) into a resumable run folder."""

from __future__ import annotations

import sys
import time

from core.cli.output import LINE_EVERY_S, emit, interrupt_cancels, shown
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
         f"finished: best ID accuracy {best.get('id_accuracy', 0):.1%} at step {best.get('step')}; run saved in "
         f"{shown(args.out)}")
    return 0


class _TrainDisplay:
    """Progress on stderr (stdout is for the result): a bar with loss and ETA on a terminal, a
    plain line every few seconds when stderr goes to a file or a pipe, and one line per evaluation."""

    def __init__(self, quiet: bool):
        self.quiet, self.bar = quiet, None
        self.plain = not sys.stderr.isatty()
        self.last_line = 0.0

    def __call__(self, event: dict) -> None:
        kind = event["type"]
        if self.quiet:
            return
        if kind == "status":
            self._say(shown(event["message"]))
        elif kind == "start" and not self.plain:
            from tqdm import tqdm

            self.bar = tqdm(total=event["total_steps"], initial=event["step"], unit="step", file=sys.stderr,
                            dynamic_ncols=True)
            self.total = event["total_steps"]
        elif kind == "start":
            self.total = event["total_steps"]
        elif kind == "step" and self.bar is not None:
            self.bar.update(event["step"] - self.bar.n)
            self.bar.set_postfix(loss=f"{event['loss']:.3f}", lr=f"{event['lr']:.2g}",
                                 img_s=f"{event['images_per_s']:.0f}", refresh=False)
        elif kind == "step" and time.monotonic() - self.last_line >= LINE_EVERY_S:
            self.last_line = time.monotonic()
            self._say(f"step {event['step']}/{self.total}: loss {event['loss']:.3f}, {event['images_per_s']:.0f} "
                      f"images/s, about {_duration(event['eta_s'])} left")
        elif kind == "eval":
            text = "  ".join(f"{shown(name)} {m['accuracy']:.1%}" for name, m in event["sets"].items())
            self._say(f"step {event['step']:>6} (epoch {event['epoch']:.2f}): {text}"
                      f"{'  ★ best' if event.get('best') else ''}")
        elif kind == "done" and event["status"] == "cancelled":
            self._say(f"\nstopped at step {event['step']}; continue with the same command and --resume")

    def _say(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"

"""`flyp train`: finetune with FLYP (or a baseline) into a resumable run folder; `--auto` chooses the settings."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

from core.cli.output import LINE_EVERY_S, emit, interrupt_cancels, shown
from core.errors import FlypError, cli_name, worded
from core.training.runs import RunStatus


def train(args) -> int:
    from core.progress import RunControl
    from core.training.config import settings
    from core.training.loop import train as run_training

    config, train_images = _config(args)
    given = {name for name, s in settings().items() if s.cli and getattr(args, name, None) is not None}
    warnings = [] if args.resume or args.auto else _bounds_warnings(config, train_images, args.json, given)
    if args.project:
        from core.project import load_project

        project = load_project(args.project)  # a wrong project file stops here, before any training
        if not args.resume:  # the images excluded in the project stay out of the run
            config.exclude += [str(project.resolve(p)) for p in project.excluded]
    control = RunControl()
    restore_signals = interrupt_cancels(control)
    from core.training.distributed import launched

    with launched(args.device) as ranks:  # several processes when started by torchrun
        display = _TrainDisplay(quiet=args.json or not ranks.is_main)
        try:
            if args.auto and not args.resume:
                if ranks.size > 1:
                    raise FlypError("«auto» runs in one process: start it without torchrun")
                from core.training.auto import auto_train

                info = auto_train(config, args.out, args.budget * 60 if args.budget else None,
                                  train_images=train_images, on_event=display, control=control)
            else:
                info = run_training(config, args.out, resume=args.resume, on_event=display, control=control)
        finally:
            display.close()
            restore_signals()
    if not ranks.is_main:
        return 0  # rank 0 reports for all
    if args.project:
        _add_to_project(args.project, args.out, info)
    _report(args, info, warnings)
    return 0


def _config(args):
    """The run's TrainConfig from the options, unset lr, batch, epochs and warmup taken from the
    model family's row (core.training.defaults); and the number of training images (None on resume)."""
    from core.data.captions import load_class_names, load_templates
    from core.training.auto import count_training_images
    from core.training.config import RUN_OPTIONS, TrainConfig, settings
    from core.training.defaults import FAMILY_SETTINGS, default_settings

    if args.resume:
        if args.auto and not (Path(args.out) / "run.json").is_file() and (Path(args.out) / "trials").is_dir():
            raise FlypError(f"{args.out}: the automatic search stopped during its trials (kept in "
                            f"{Path(args.out) / 'trials'}); start it again with another «out»")
        speed = {option: getattr(args, option) for option in RUN_OPTIONS}  # a resumed run takes these too
        return TrainConfig(train_dir=args.train_dir or ".", **speed), None
    if args.budget is not None and not args.auto:
        raise FlypError("«budget» is the automatic mode's time: use it with «auto»")
    if not args.train_dir:
        raise FlypError("«train_dir» DIR is required (or «resume» to continue the run in «out»)")
    options = {name: getattr(args, name) for name, s in settings().items() if s.cli}
    given = {name: options.pop(name) for name in FAMILY_SETTINGS if options.get(name) is not None}
    options = {name: value for name, value in options.items() if name not in FAMILY_SETTINGS}
    if args.auto and given:
        raise FlypError(f"«{next(iter(given))}»: the automatic mode («auto») chooses it; leave it out, "
                        "or train without «auto»")
    config = TrainConfig(**options, model=args.model, pretrained=args.pretrained,
                         templates=load_templates(args.templates),
                         class_names=load_class_names(args.class_names) if args.class_names else {})
    train_images = count_training_images(config)
    return replace(config, **(default_settings(config.model, train_images) | given)), train_images


def _add_to_project(project: str, out: str, info: dict) -> None:
    """List the run (and an automatic run's trials, first) in the project file."""
    from core.project import add_runs_to_project

    trials = [str(Path(out) / t["run"]) for t in (info.get("auto") or {}).get("trials", [])]
    try:
        add_runs_to_project(project, [*trials, out])
    except FlypError as exc:
        raise FlypError(f"{exc}; the run is saved in {out}: add it in the app with File ▸ Add run "
                        "folder…") from None


def _bounds_warnings(config, train_images: int, quiet: bool, given: set[str]) -> list[str]:
    """Settings the user gave (`given`) far outside what works for the model: one warning line
    each; the run still starts. A value the program chose itself is never warned about."""
    from core.training.defaults import check_bounds

    warnings = [worded(flag.text()) for flag in check_bounds(config, train_images) if flag.setting in given]
    for text in warnings if not quiet else ():
        print(f"flyp: warning: {text}; the run starts anyway", file=sys.stderr)
    return warnings


def _report(args, info: dict, warnings: list[str]) -> None:
    """The result line on stdout (the whole result with --json); then, for the person reading, how
    the automatic mode chose and the advice drawn from the run's curves, on stderr."""
    from core.training.advice import advise, collapsed

    best, auto = info.get("best") or {}, info.get("auto")
    advice = advise(args.out)
    data = {"run": args.out, "status": info["status"], "zeroshot": info.get("zeroshot"), "best": best,
            "advice": [a.to_json() for a in advice], "warnings": warnings}
    if auto:
        data["auto"] = auto
    test = (best.get("sets") or {}).get("test")
    tested = f"test accuracy {test['accuracy']:.1%} on {test['n']} images (the figure to quote); " if test else ""
    emit(args, data, f"finished: best ID accuracy {best.get('id_accuracy', 0):.1%} at step {best.get('step')}; "
                     f"{tested}run saved in {shown(args.out)}")
    if args.json:
        return
    notes = []
    if worse := collapsed(info):
        notes.append(worse)
    if stopped := info.get("stopped_early"):
        notes.append(f"stopped early at step {stopped['step']} of {stopped['of']}: {stopped['reason']}")
    if auto:
        notes.append(f"automatic settings: {auto['why']}")
    notes += [f"advice: {advice_text(a)}" for a in advice]
    if note := _defaults_note(args, info, advice):
        notes.append(note)
    for line in notes:
        print(line, file=sys.stderr)


def _defaults_note(args, info: dict, advice) -> str | None:
    """Without --auto and with none of lr/epochs given, the run used the family's fixed row: say that
    --auto is the way for a new folder, the more so when the curves say the run stopped short."""
    if args.auto or args.resume or getattr(args, "lr", None) is not None or getattr(args, "epochs", None) is not None:
        return None
    config = info.get("config") or {}
    short = next((a for a in advice if a.kind in ("still_rising", "barely_moved")), None)
    why = "validation accuracy was still rising, so these settings stopped short; " if short and \
        short.kind == "still_rising" else "the model barely moved from zero-shot with them; " if short else ""
    return (f"note: trained with the model family's default settings ({config.get('epochs')} epochs, learning rate "
            f"{config.get('lr', 0):g}), not chosen for this folder; {why}for a new folder, {cli_name('auto')} chooses "
            f"the learning rate and epochs on validation (flyp train --auto … --out RUN_DIR)")


def advice_text(advice) -> str:
    """A piece of advice in the command line's words: the finding, then the options to change."""
    text = advice.finding
    if advice.change:
        text += " Try " + " ".join(f"{cli_name(name)} {value:g}" for name, value in advice.change.items()) + "."
    if advice.hint:
        text += " " + advice.hint
    return text


class _TrainDisplay:
    """Progress on stderr (stdout is for the result): a bar with loss and ETA on a terminal, a
    plain line every few seconds when stderr goes to a file or a pipe, and one line per evaluation."""

    def __init__(self, quiet: bool):
        self.quiet, self.bar, self.download = quiet, None, None
        self.plain = not sys.stderr.isatty()
        self.last_line = 0.0

    def __call__(self, event: dict) -> None:
        kind = event["type"]
        if self.quiet:
            return
        if kind == "status":
            self._say(shown(event["message"]))
        elif kind == "download":
            self._download(event)
        elif kind == "start" and not self.plain:
            self._end_download()
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
        elif kind == "auto":
            self.close()
            if event["phase"] == "trial":
                self._say(f"automatic settings: trial {event['index']}, learning rate {event['lr']:g} for "
                          f"{event['epochs']} epoch(s) ({event['left_s'] / 60:.1f} min of the budget left)")
            else:
                self._say(f"automatic settings: the final run, learning rate {event['lr']:g} for up to "
                          f"{event['epochs']} epochs")
        elif kind == "done" and event["status"] == RunStatus.CANCELLED:
            self._say(f"\nstopped at step {event['step']}; continue with the same command and --resume")

    def _say(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def _download(self, event: dict) -> None:
        """A byte bar while a Hub model's files are downloaded (a new bar for each file); a line
        every few seconds when stderr is not a terminal."""
        from tqdm import tqdm

        if self.plain:
            if time.monotonic() - self.last_line >= LINE_EVERY_S:
                self.last_line = time.monotonic()
                self._say(f"downloading {event['model']}: {event['done'] / 1e6:.0f} of {event['total'] / 1e6:.0f} MB")
            return
        if self.download is None or event["done"] < self.download.n:
            self._end_download()
            self.download = tqdm(total=event["total"] or None, unit="B", unit_scale=True, file=sys.stderr,
                                 desc=f"downloading {event['model']}", dynamic_ncols=True, disable=None)
        self.download.update(event["done"] - self.download.n)

    def _end_download(self) -> None:
        if self.download is not None:
            self.download.close()
            self.download = None

    def close(self) -> None:
        self._end_download()
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"

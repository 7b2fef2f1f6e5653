"""The `flyp` command line's options: one sub-parser per verb (the verbs live in their own modules)."""

from __future__ import annotations

import argparse
import math

from core.errors import SETTING as SETTING_MARK
from core.training.config import MAX_BUDGET_MINUTES, MAX_SEED, TrainConfig


class UsageError(Exception):
    """A command line that does not parse; its message is one line (`core.cli.main` prints it)."""


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line instead of the usage block (exit code 2)."""

    def error(self, message: str):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


class _Version(argparse.Action):
    """`--version`: this program's version and the libraries it runs on, which decide what it can do."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text())
        parser.exit()


def version_text() -> str:
    import platform

    import open_clip
    import torch

    from core import __version__

    if torch.version.cuda is None:
        cuda = "no CUDA (a CPU build of torch)"
    else:
        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        cuda = f"CUDA {torch.version.cuda} ({gpus or 'no'} GPU{'s' if gpus != 1 else ''} found)"
    return (f"flyp {__version__} (torch {torch.__version__}, {cuda}, open_clip {open_clip.__version__}, "
            f"Python {platform.python_version()})")


EXAMPLES = {
    "scan": "flyp scan photos/train",
    "check": "flyp check photos/train --val photos/val --json",
    "search": "flyp search photos/train --text 'a blurry photo' --top 20",
    "zeroshot": "flyp zeroshot --model ViT-B-32 --pretrained openai --data photos/val",
    "train": "flyp train --model ViT-B-32 --pretrained openai --train photos/train --val photos/val --out runs/first",
    "evaluate": "flyp evaluate --run runs/first --data photos/new --alpha 0.5",
    "blend": "flyp blend --run runs/first",
    "export": "flyp export --run runs/first --out bundles/first",
    "predict": "flyp predict bundles/first photo.jpg more-photos/",
    "explain": "flyp explain bundles/first photo.jpg --out heat-maps/ --class star",
    "forgetting": "flyp forgetting runs/first --control photos/other-classes --keep-within 2",
    "models": "flyp models",
    "soup": "flyp soup --runs runs/seed0 runs/seed1 runs/seed2 --out runs/soup",
    "compare": "flyp compare runs/",
    "demo": "flyp demo",
}


def number(kind: type, low: float, high: float):
    """An option's converter: a finite `kind` (int or float) from `low` to `high`, else a usage
    error that says the range (NaN, inf, 1e12 epochs or a 2**70 seed stop at parse time)."""
    fmt = "d" if kind is int else "g"
    words = f"{'a whole number' if kind is int else 'a number'} from {low:{fmt}} to {high:{fmt}}"

    def convert(text: str):
        try:
            value = kind(text)
        except (TypeError, ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"must be {words} (got {text!r})") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"must be {words} (got {text!r})")
        return value

    convert.__name__ = kind.__name__  # argparse names the type in its own messages
    convert.bounds = (kind, low, high)  # the tests try every numeric option against its bounds
    return convert


def device_name(text: str) -> str:
    """--device: auto, cpu, cuda, cuda:N or mps (an empty value is refused, not taken as auto)."""
    from core.training.config import valid_device

    if not valid_device(text.lower()):
        raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda, cuda:N or mps (got {text!r})")
    return text.lower()


FRACTION = number(float, 0.0, 1.0)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="flyp", description="FLYP Studio's engine: finetune CLIP on folders of labelled images.",
        epilog="example: flyp demo data photos && flyp train --train photos/train --val photos/val --out runs/first"
               "  (`flyp COMMAND --help` for each command)")
    parser.add_argument("--version", action=_Version, help="show the versions of flyp, torch, CUDA and open_clip")
    verbs = parser.add_subparsers(title="commands", metavar="COMMAND")
    from core.cli import check, compare, data, demo, explain, forgetting, runs, search, train

    def verb(name, func, help_text):
        p = verbs.add_parser(name, help=help_text, description=help_text, epilog=f"example: {EXAMPLES[name]}")
        p.set_defaults(handler=func)
        p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
        return p

    p = verb("scan", data.scan, "check a folder of class folders and list every problem found")
    p.add_argument("dir", metavar="DIR", help="folder with one sub-folder of images per class")

    p = verb("check", check.check, "check labelled folders before training: suspicious labels (most suspicious "
                                   "first), near-duplicates and leaks between folders, bad images, shortcuts, "
                                   "small or imbalanced classes")
    p.add_argument("dir", metavar="DIR", help="the training folder (one sub-folder per class)")
    p.add_argument("--val", metavar="DIR", help="the validation folder, checked for leaks")
    p.add_argument("--ood", metavar="DIR", nargs="+", help="different-conditions folders, checked for leaks")
    _model_args(p)
    _caption_args(p)
    p.add_argument("--run", metavar="RUN_DIR", help="use a run's model (at --alpha) instead of a pretrained one")
    p.add_argument("--alpha", type=FRACTION, default=None, help="with --run: weight-ensembling α (default: 1)")
    p.add_argument("--threshold", type=FRACTION, metavar="S",
                   help="near-duplicate similarity, 0–1 (default: 0.98; lower finds looser copies)")
    p.add_argument("--concept", metavar="WORDS", action="append",
                   help="a possible shortcut to look for beside the default ones (a ruler, a watermark, a "
                        "hand…), e.g. 'a petri dish' or a caption with {} for the class; may be repeated")
    p.add_argument("--project", metavar="NAME.flyp.json",
                   help="a FLYP Studio project: the images it leaves out of training are not checked, and "
                        "those reviewed and kept as they are not listed again; its own shortcut concepts are looked "
                        "for too")
    p.add_argument("--device", type=device_name, default="auto", help="auto, cpu, cuda or mps (default: auto)")

    p = verb("search", search.search, "rank images by similarity to a phrase or to an example image")
    p.add_argument("dir", metavar="DIR", nargs="+", help="folders of images (searched at any depth)")
    p.add_argument("--text", metavar="PHRASE", help="words to search for, e.g. 'a blurry photo' or 'star'")
    p.add_argument("--image", metavar="FILE", help="an example image: the most similar images first")
    _model_args(p)
    p.add_argument("--templates", metavar="PRESET|FILE",
                   help="caption templates a bare word is searched through (default: simple)")
    p.add_argument("--run", metavar="RUN_DIR", help="use a run's model (at --alpha) instead of a pretrained one")
    p.add_argument("--alpha", type=FRACTION, default=None, help="with --run: weight-ensembling α (default: 1)")
    p.add_argument("--top", type=number(int, 1, 10_000_000), metavar="N", help="list the N most similar only")
    _device_arg(p)

    p = verb("zeroshot", data.zeroshot, "zero-shot accuracy of a model on a labelled folder")
    _model_args(p)
    p.add_argument("--data", required=True, metavar="DIR", help="folder of class folders to evaluate on")
    _caption_args(p)
    _device_arg(p)

    p = verb("train", train.train, "finetune with FLYP (or a baseline) and save a resumable run")
    _train_args(p)
    p.add_argument("--project", metavar="NAME.flyp.json",
                   help="list the finished run in this FLYP Studio project, to blend, try and export it in the app")

    p = verb("evaluate", runs.evaluate, "accuracy of a run's model (at weight-ensembling α) on a labelled folder")
    _run_args(p)
    p.add_argument("--data", required=True, metavar="DIR", help="folder of class folders (the run's classes)")
    p.add_argument("--alpha", type=FRACTION, default=1.0, help="0 = zero-shot, 1 = finetuned (default: 1)")

    p = verb("blend", runs.blend, "the weight-ensembling curve: ID and OOD accuracy for each α")
    _run_args(p)
    p.add_argument("--alphas", default="0:1:0.1", help="start:stop:step or a list a,b,c (default: 0:1:0.1)")

    p = verb("export", runs.export, "write a self-checking bundle of a run's model at α")
    _run_args(p)
    p.add_argument("--alpha", type=FRACTION, default=None, help="default: the α with the best ID accuracy")
    p.add_argument("--out", required=True, metavar="BUNDLE", help="bundle folder to write")
    p.add_argument("--onnx", action="store_true", help="also write model.onnx (needs the onnx extra)")

    p = verb("predict", runs.predict, "classify images (files or folders, in batches) with an exported bundle "
                                      "or a run; optionally write a CSV and sort the images into class folders")
    p.add_argument("bundle", metavar="BUNDLE_OR_RUN", help="a bundle folder (flyp export) or a run folder")
    p.add_argument("images", metavar="PATH", nargs="+", help="image files, or folders of them (any depth)")
    p.add_argument("--alpha", type=FRACTION, default=None,
                   help="a run's weight-ensembling α: 0 = zero-shot, 1 = finetuned (default: 1)")
    p.add_argument("--top-k", type=number(int, 1, 1000), default=3, help="how many classes to show (default: 3)")
    p.add_argument("--csv", metavar="OUT.csv", help="write one row per image: path, class, confidence, the next "
                                                    "classes, or why the image was skipped")
    p.add_argument("--sort-into", metavar="DIR", help="copy each image into DIR/<class>/ (nothing is overwritten)")
    p.add_argument("--min-confidence", type=FRACTION, default=0.5, metavar="P",
                   help="with --sort-into: images below this confidence go to DIR/_uncertain/ (default: 0.5)")
    p.add_argument("--batch-size", type=number(int, 1, 65_536), default=64, help="images per batch (default: 64)")
    _device_arg(p)

    p = verb("explain", explain.explain, "where the model looked: a heat map over each image for its predicted "
                                        "class (or --class), written as a PNG overlay")
    p.add_argument("bundle", metavar="BUNDLE_OR_RUN", help="a bundle folder (flyp export) or a run folder")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="image files")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the overlays (one PNG per image)")
    p.add_argument("--class", dest="class_name", metavar="NAME", help="the class to explain (default: the predicted one)")
    p.add_argument("--alpha", type=FRACTION, default=None,
                   help="a run's weight-ensembling α: 0 = zero-shot, 1 = finetuned (default: 1)")
    _device_arg(p)

    p = verb("forgetting", forgetting.forgetting, "what finetuning forgot: zero-shot accuracy on a control set of "
                                                 "other classes along α (and best balance keeping it)")
    p.add_argument("run", metavar="RUN_DIR", help="a run folder")
    p.add_argument("--control", required=True, metavar="DIR",
                   help="a folder with one sub-folder of images per class the project does not train")
    p.add_argument("--keep-within", type=number(float, 0, 100), default=None, metavar="POINTS",
                   help="also give best balance's α among those keeping the control set within POINTS of zero-shot")
    _device_arg(p)

    p = verb("models", data.models, "list the open_clip architectures and their pretrained tags")

    p = verb("soup", compare.soup, "average the weights of finetuned runs of one model into a new run")
    p.add_argument("--runs", required=True, nargs="+", metavar="RUN_DIR", help="run folders to average")
    p.add_argument("--out", required=True, metavar="SOUP_RUN", help="run folder to write the soup into")
    p.add_argument("--greedy", action="store_true",
                   help="greedy soup: add runs, best first, only while ID validation accuracy does not drop "
                        "(default: uniform, every run)")
    p.add_argument("--checkpoint", choices=["best", "last"], default="best", help="weights of each run (best)")
    _device_arg(p)

    p = verb("compare", compare.compare, "runs side by side: method, settings, ID and OOD accuracy, best α, time")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders (or a folder of runs, e.g. a project's NAME-runs)")
    p.add_argument("--cached-only", action="store_true",
                   help="use the α curves already cached in the run folders; compute none")
    _device_arg(p)

    p = verb("demo", demo.demo, "the embedded demo: `flyp demo` runs the whole story on the CPU")
    p.add_argument("action", nargs="?", default="run", metavar="{run,data,pretrain}",
                   help="run [DIR] (default): the whole story (`flyp demo DIR` also runs it); data DIR: write "
                        "the demo folders; pretrain DIR: re-create the demo model from its seed")
    p.add_argument("dir", nargs="?", metavar="DIR", help="the folder to write (run: default, the demo folder in your "
                                                       "user data)")
    p.add_argument("--seed", type=number(int, 0, MAX_SEED), default=0, help="seed of the demo data and runs (default: 0)")
    p.add_argument("--steps", type=number(int, 1, 10_000_000), metavar="N", help="pretrain: training steps (default: the shipped model's)")
    _device_arg(p)
    return parser


def _device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", type=device_name, default=TrainConfig.device,
                   help=f"auto, cpu, cuda, cuda:N or mps (default: {TrainConfig.device})")


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=TrainConfig.model,
                   help="'demo' (the embedded model), an open_clip architecture such as ViT-B-32 (with --pretrained), "
                        "a Hugging Face Hub model hf-hub:ORG/NAME (e.g. hf-hub:imageomics/bioclip; `flyp models` "
                        "lists domain models) or a folder local-dir:PATH (default: demo)")
    p.add_argument("--pretrained", metavar="TAG|FILE",
                   help="open_clip pretrained tag (e.g. openai), a weights file, or 'none' for random weights")


def _caption_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--templates", metavar="PRESET|FILE",
                   help="caption templates: a preset (simple, openai-imagenet-7, openai-imagenet-80, …) "
                        "or a file with one template per line, {} for the class name (default: simple)")
    p.add_argument("--class-names", metavar="FILE",
                   help="display names for class folders: JSON {\"folder\": \"name\"} or lines folder=name")


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="a run folder written by `flyp train`")
    p.add_argument("--checkpoint", choices=["best", "last"], default="best",
                   help="finetuned weights to use (default: best on ID validation)")
    _device_arg(p)


def _train_args(p: argparse.ArgumentParser) -> None:
    _model_args(p)
    _caption_args(p)
    _setting_args(p)
    p.add_argument("--auto", action="store_true",
                   help="choose the learning rate and epochs automatically within --budget, on ID validation only "
                        "(short trials in RUN_DIR/trials, then the best trained into RUN_DIR); use it for a new "
                        "folder: without it the model family's fixed row of defaults is used as it is")
    p.add_argument("--budget", type=number(float, 0.01, MAX_BUDGET_MINUTES), metavar="MINUTES",
                   help="--auto: the time it may take (default: scaled to the model, the device and the data; "
                        "a few minutes for the demo model on a CPU)")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder to write (or to resume)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")


def _setting_args(p: argparse.ArgumentParser) -> None:
    """One option per TrainConfig field that the command line offers, from the field's declaration."""
    from dataclasses import fields

    from core.errors import cli_name
    from core.training.config import BOUNDS, defaults
    from core.training.defaults import FAMILY_SETTINGS

    values = defaults()
    for f in fields(TrainConfig):
        setting = f.metadata["setting"]
        if not setting.cli:
            continue
        text = SETTING_MARK.sub(lambda m: cli_name(m.group(1)), setting.help)
        kind, default = str(f.type), None if f.name in FAMILY_SETTINGS else values[f.name]  # None: the family's
        if kind == "bool":
            p.add_argument(cli_name(f.name), dest=f.name, action="store_true", help=text)
        elif kind.startswith("list"):
            p.add_argument(cli_name(f.name), dest=f.name, action="append", default=[], metavar=setting.metavar,
                           help=text)
        else:
            convert = int if kind.startswith("int") else float if kind.startswith("float") else str
            if f.name in BOUNDS:
                convert = number(convert, *BOUNDS[f.name])
            elif f.name == "val_fraction":
                convert = number(float, 0.001, 0.999)
            elif f.name == "device":
                convert = device_name
            p.add_argument(cli_name(f.name), dest=f.name, type=convert, default=default,
                           metavar=setting.metavar, choices=setting.choices, help=text)

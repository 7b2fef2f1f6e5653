"""The `flyp` command line's options: one sub-parser per verb (the verbs live in their own modules)."""

from __future__ import annotations

import argparse

from core.errors import SETTING as SETTING_MARK


def build_parser() -> argparse.ArgumentParser:
    from core import __version__

    parser = argparse.ArgumentParser(
        prog="flyp", description="FLYP Studio's engine: finetune CLIP on folders of labelled images.")
    parser.add_argument("--version", action="version", version=f"flyp {__version__}")
    verbs = parser.add_subparsers(title="commands", metavar="COMMAND")
    from core.cli import compare, data, demo, runs, train

    def verb(name, func, help_text):
        p = verbs.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=func)
        p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
        return p

    p = verb("scan", data.scan, "check a folder of class folders and list every problem found")
    p.add_argument("dir", metavar="DIR")

    p = verb("zeroshot", data.zeroshot, "zero-shot accuracy of a model on a labelled folder")
    _model_args(p)
    p.add_argument("--data", required=True, metavar="DIR", help="folder of class folders to evaluate on")
    _caption_args(p)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")

    p = verb("train", train.train, "finetune with FLYP (or a baseline) and save a resumable run")
    _train_args(p)
    p.add_argument("--project", metavar="NAME.flyp.json",
                   help="list the finished run in this FLYP Studio project, to blend, try and export it in the app")

    p = verb("evaluate", runs.evaluate, "accuracy of a run's model (at weight-ensembling α) on a labelled folder")
    _run_args(p)
    p.add_argument("--data", required=True, metavar="DIR")
    p.add_argument("--alpha", type=float, default=1.0, help="0 = zero-shot, 1 = finetuned (default: 1)")

    p = verb("blend", runs.blend, "the weight-ensembling curve: ID and OOD accuracy for each α")
    _run_args(p)
    p.add_argument("--alphas", default="0:1:0.1", help="start:stop:step or a list a,b,c (default: 0:1:0.1)")

    p = verb("export", runs.export, "write a self-checking bundle of a run's model at α")
    _run_args(p)
    p.add_argument("--alpha", type=float, default=None, help="default: the α with the best ID accuracy")
    p.add_argument("--out", required=True, metavar="BUNDLE", help="bundle folder to write")
    p.add_argument("--onnx", action="store_true", help="also write model.onnx (needs the onnx extra)")

    p = verb("predict", runs.predict, "classify images (files or folders) with an exported bundle")
    p.add_argument("bundle", metavar="BUNDLE")
    p.add_argument("images", metavar="IMAGE", nargs="+")
    p.add_argument("--top-k", type=int, default=3, help="how many classes to show (default: 3)")
    p.add_argument("--device", default="auto")

    p = verb("models", data.models, "list the open_clip architectures and their pretrained tags")

    p = verb("soup", compare.soup, "average the weights of finetuned runs of one model into a new run")
    p.add_argument("--runs", required=True, nargs="+", metavar="RUN_DIR", help="run folders to average")
    p.add_argument("--out", required=True, metavar="SOUP_RUN", help="run folder to write the soup into")
    p.add_argument("--greedy", action="store_true",
                   help="greedy soup: add runs, best first, only while ID validation accuracy does not drop "
                        "(default: uniform, every run)")
    p.add_argument("--checkpoint", choices=["best", "last"], default="best", help="weights of each run (best)")
    p.add_argument("--device", default="auto")

    p = verb("compare", compare.compare, "runs side by side: method, settings, ID and OOD accuracy, best α, time")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders (or a folder of runs, e.g. a project's NAME-runs)")
    p.add_argument("--cached-only", action="store_true",
                   help="use the α curves already cached in the run folders; compute none")
    p.add_argument("--device", default="auto")

    p = verb("demo", demo.demo, "the embedded demo: `flyp demo` runs the whole story on the CPU")
    p.add_argument("action", nargs="?", default="run", metavar="{run,data,pretrain}",
                   help="run [DIR] (default): the whole story (`flyp demo DIR` also runs it); data DIR: write "
                        "the demo folders; pretrain DIR: re-create the demo model from its seed")
    p.add_argument("dir", nargs="?", metavar="DIR")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    return parser


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="demo",
                   help="'demo' (the embedded model) or an open_clip architecture such as ViT-B-32 (default: demo)")
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
    p.add_argument("--device", default="auto")


def _train_args(p: argparse.ArgumentParser) -> None:
    _model_args(p)
    _caption_args(p)
    _setting_args(p)
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder to write (or to resume)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")


def _setting_args(p: argparse.ArgumentParser) -> None:
    """One option per TrainConfig field that the command line offers, from the field's declaration."""
    from dataclasses import fields

    from core.errors import cli_name
    from core.training.config import TrainConfig, defaults

    values = defaults()
    for f in fields(TrainConfig):
        setting = f.metadata["setting"]
        if not setting.cli:
            continue
        text = SETTING_MARK.sub(lambda m: cli_name(m.group(1)), setting.help)
        kind, default = str(f.type), values[f.name]
        if kind == "bool":
            p.add_argument(cli_name(f.name), dest=f.name, action="store_true", help=text)
        elif kind.startswith("list"):
            p.add_argument(cli_name(f.name), dest=f.name, action="append", default=[], metavar=setting.metavar,
                           help=text)
        else:
            convert = int if kind.startswith("int") else float if kind.startswith("float") else str
            p.add_argument(cli_name(f.name), dest=f.name, type=convert, default=default,
                           metavar=setting.metavar, choices=setting.choices, help=text)

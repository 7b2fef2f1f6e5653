"""The `flyp` command line's options: one sub-parser per verb (the verbs live in their own modules)."""

from __future__ import annotations

import argparse

from core.training.config import PRECISIONS


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
    p.add_argument("--train", metavar="DIR", help="training folder: one sub-folder of images per class")
    p.add_argument("--val", metavar="DIR", help="validation folder (default: a seeded split of --train)")
    p.add_argument("--val-fraction", type=float, default=0.2, help="share held out when there is no --val (0.2)")
    p.add_argument("--ood", metavar="DIR", action="append", default=[],
                   help="an extra labelled folder for 'different conditions' (repeatable)")
    _caption_args(p)
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

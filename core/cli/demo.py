"""`flyp demo`: the embedded demo's whole story, its folders, or its model's pretraining."""

from __future__ import annotations


def demo(args) -> int:
    from core.cli.output import bar
    from core.demo import story

    return story.main(args, progress=bar("Pretraining the demo model", args))

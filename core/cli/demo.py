"""`flyp demo`: the embedded demo's whole story, its folders, or its model's pretraining."""

from __future__ import annotations


def demo(args) -> int:
    from core.demo import story

    return story.main(args)

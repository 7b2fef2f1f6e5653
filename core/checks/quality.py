"""Bad images: blurred, too dark, too bright, nearly uniform, an extreme aspect ratio, tiny.

What CleanVision checks, in a few lines of numpy each on a grey thumbnail (at most `THUMB`
pixels a side, aspect kept) rather than through CleanVision itself: it would bring pandas,
imagehash and its own image loading for six numbers per image, while FLYP Studio already
decodes every format the project accepts (`core.data.images.load_rgb`) and caches per-file
results by content digest (`core.model.feature_cache.FeatureCache`, key `KEY`).

Each check has one number per image (`score`, documented on `ISSUES`) and a threshold chosen on
the demo's clean training folders so that almost none is listed (`tests/test_quality.py`,
benchmarks/README.md). Sharpness depends on the kind of picture (a micrograph is smooth, a
street scene is not), so an image is *blurred* relative to its project: its sharpness below
`BLUR_FRACTION` of the project's median. The other thresholds are absolute.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image

from core.data.images import load_rgb, read_image_bytes
from core.errors import FlypError
from core.progress import Progress, check_cancel, no_cancel, no_progress

THUMB = 256
KEY = f"quality|{THUMB}|1"
BLUR_FRACTION = 0.35     # sharpness below this share of the project's median: blurred
MIN_FOR_MEDIAN = 8       # fewer images: the median of the demo's clean photos is used instead
REFERENCE_SHARPNESS = 1.0
DARK = 0.18              # mean brightness (0–1) below this, and
DARK_HIGHLIGHT = 0.4     # nothing brighter than this at the 99th percentile: too dark
BRIGHT = 0.92            # mean brightness above this, and
BRIGHT_SHADOW = 0.75     # nothing darker than this at the 1st percentile: too bright
LOW_ENTROPY = 2.0        # bits of the grey histogram below this, and
LOW_RANGE = 0.25         # the 1st to 99th percentile of brightness within this: nearly uniform
ASPECT = 4.0             # longer side over shorter side above this: extreme aspect ratio
TINY = 32                # shorter side below this (pixels): tiny

ISSUES = {
    "blurred": "sharpness relative to the project's median (lower is blurrier)",
    "dark": "mean brightness, 0 black to 1 white",
    "bright": "mean brightness, 0 black to 1 white",
    "low-information": "entropy of the grey levels in bits (8 at most; lower is more uniform)",
    "odd-aspect-ratio": "longer side over shorter side",
    "tiny": "shorter side in pixels",
}
ADVICE = {
    "blurred": "retake or leave out blurred images, unless the model will see such images too",
    "dark": "check the exposure; leave out images where the object cannot be seen",
    "bright": "check the exposure; leave out images where the object cannot be seen",
    "low-information": "nearly uniform images (blank, lens cap, empty slide) teach nothing: leave them out",
    "odd-aspect-ratio": "the model sees a centred square crop: crop these images around the object",
    "tiny": "tiny images are enlarged and lose detail: use larger originals where you have them",
}


@dataclass
class QualityIssue:
    path: str
    issue: str    # a key of ISSUES
    score: float  # the measurement, as ISSUES describes it

    def to_json(self) -> dict:
        return {"path": self.path, "issue": self.issue, "score": round(self.score, 4)}


# The numbers kept per image (a row of the cache): width, height, sharpness, brightness, p1, p99, entropy.
WIDTH, HEIGHT, SHARPNESS, BRIGHTNESS, P1, P99, ENTROPY = range(7)


def measure(image: Image.Image) -> torch.Tensor:
    """The seven numbers of one RGB image (see `WIDTH`…`ENTROPY`)."""
    width, height = image.size
    small = image.convert("L")
    small.thumbnail((THUMB, THUMB), Image.Resampling.BOX)
    grey = np.asarray(small, dtype=np.float32) / 255.0
    lap = (4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1] - grey[1:-1, :-2] - grey[1:-1, 2:]) \
        if min(grey.shape) >= 3 else np.zeros(1, np.float32)
    # Laplacian energy over contrast: a darkened or faded copy keeps its sharpness, a blurred one loses it.
    sharpness = float(lap.std()) / (float(grey.std()) + 1e-3)
    counts = np.bincount((grey * 255).astype(np.uint8).ravel(), minlength=256) / grey.size
    entropy = float(-(counts[counts > 0] * np.log2(counts[counts > 0])).sum())
    p1, p99 = np.percentile(grey, [1, 99])
    return torch.tensor([width, height, sharpness, float(grey.mean()), float(p1), float(p99), entropy])


def image_measures(paths: Sequence[str | os.PathLike], *, cache_root: str | os.PathLike | None = None,
                   progress: Progress = no_progress, cancel: Callable[[], bool] = no_cancel) -> list[torch.Tensor | None]:
    """Per file, its measures (`measure`), cached by content digest; None for a file that
    cannot be read (the folder scan reports those)."""
    from core.model.feature_cache import FeatureCache, digest_of

    cache = FeatureCache(KEY, cache_root, unit_rows=False)  # measures, not features

    def one(path: Path) -> tuple[str, torch.Tensor | None, bool]:
        check_cancel(cancel)
        try:
            data = read_image_bytes(path)
            digest = digest_of(data)
            if (known := cache.get(digest)) is not None and known.shape == (ENTROPY + 1,):
                return digest, known, False  # a row of another width (a damaged cache) is measured again
            return digest, measure(load_rgb(path, draft_size=THUMB, data=data)), True
        except FlypError:
            return "", None, False

    paths = [Path(p) for p in paths]
    results: list[torch.Tensor | None] = []
    fresh: dict[str, torch.Tensor] = {}
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 2)) as pool:
        for done, (digest, row, new) in enumerate(pool.map(one, paths), 1):
            results.append(row)
            if new:
                fresh[digest] = row
            progress(done, len(paths))
    check_cancel(cancel)
    if fresh:
        cache.put(list(fresh), torch.stack(list(fresh.values())))
    return results


def find_bad_images(paths: Sequence[str | os.PathLike], *, cache_root: str | os.PathLike | None = None,
                    progress: Progress = no_progress, cancel: Callable[[], bool] = no_cancel) -> list[QualityIssue]:
    """The images of `paths` with a quality issue (`ISSUES`), grouped by issue (in the order of
    `ISSUES`), the worst first within each; an image can be listed under several issues."""
    rows = image_measures(paths, cache_root=cache_root, progress=progress, cancel=cancel)
    return issues_of([str(p) for p in paths], rows)


def issues_of(paths: Sequence[str], rows: Sequence[torch.Tensor | None]) -> list[QualityIssue]:
    """The issues of already measured images (`image_measures`)."""
    known = [(p, r) for p, r in zip(paths, rows) if r is not None]
    if not known:
        return []
    x = torch.stack([r for _, r in known]).double()
    sharp = x[:, SHARPNESS]
    median = float(sharp.median()) if len(known) >= MIN_FOR_MEDIAN else REFERENCE_SHARPNESS
    relative = sharp / max(median, 1e-6)
    short, long = x[:, [WIDTH, HEIGHT]].min(dim=1).values, x[:, [WIDTH, HEIGHT]].max(dim=1).values
    tests = {  # issue: (flagged, score, worst first when the score is high)
        "blurred": (relative < BLUR_FRACTION, relative, False),
        "dark": ((x[:, BRIGHTNESS] < DARK) & (x[:, P99] < DARK_HIGHLIGHT), x[:, BRIGHTNESS], False),
        "bright": ((x[:, BRIGHTNESS] > BRIGHT) & (x[:, P1] > BRIGHT_SHADOW), x[:, BRIGHTNESS], True),
        # A line drawing is mostly blank paper too, but its lines span the grey levels.
        "low-information": ((x[:, ENTROPY] < LOW_ENTROPY) & (x[:, P99] - x[:, P1] < LOW_RANGE), x[:, ENTROPY], False),
        "odd-aspect-ratio": (long / short.clamp(min=1) > ASPECT, long / short.clamp(min=1), True),
        "tiny": (short < TINY, short, False),
    }
    found = []
    for issue, (flagged, score, high_is_worse) in tests.items():
        listed = [QualityIssue(known[i][0], issue, float(score[i])) for i in torch.nonzero(flagged).flatten().tolist()]
        found += sorted(listed, key=lambda q: -q.score if high_is_worse else q.score)
    return found

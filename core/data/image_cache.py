"""Training images decoded once, into a memory-mapped store that later epochs read.

JPEG decoding and resizing dominate the data side of an epoch. The first time a training set is
used, each image is decoded, turned upright RGB and scaled so that its shorter side is
`WORKING_SCALE` × the model's input size (never enlarged); the pixels go into one flat uint8
file with an offsets table. Random-resized crops are then cut from these pixels every epoch,
so augmentation still varies. The store is keyed by every file's path, size and modification
time: any change to the folder builds a new one. It is written to a temporary folder and moved
into place, so a crash never leaves a half-written cache in use.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from core.errors import FlypError
from core.data.images import DICOM_EXTENSIONS, HEIF_EXTENSIONS, load_rgb
from core.progress import Progress, check_cancel, no_cancel, no_progress

WORKING_SCALE = 1.25
KEEP_STORES = 6
MAX_BYTES = 24 * 2**30  # larger sets are decoded on the fly instead


def cache_root() -> Path:
    from platformdirs import user_cache_path

    return Path(os.environ.get("FLYP_CACHE_DIR") or user_cache_path("FLYP Studio", appauthor=False)) / "decoded"


def working_size(width: int, height: int, input_size: int) -> tuple[int, int]:
    short = round(input_size * WORKING_SCALE)
    scale = short / min(width, height)
    if scale >= 1.0:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def _store_key(paths: Sequence[Path], input_size: int) -> str:
    digest = hashlib.blake2b(f"v1|{input_size}|{WORKING_SCALE}".encode(), digest_size=16)
    for path in paths:
        stat = os.stat(path)
        # surrogateescape: a file name that is not valid UTF-8 keys the store by its very bytes
        digest.update(f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


class DecodedImages:
    """Read access to a built store; picklable (DataLoader workers open the memory map lazily)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.table = np.load(folder / "offsets.npy")  # rows: offset, height, width
        self._pixels = None

    def __len__(self) -> int:
        return len(self.table)

    def __getstate__(self):
        return {"folder": self.folder, "table": self.table, "_pixels": None}

    def image(self, index: int) -> Image.Image:
        if self._pixels is None:
            self._pixels = np.memmap(self.folder / "pixels.bin", dtype=np.uint8, mode="r")
        offset, height, width = (int(v) for v in self.table[index])
        array = self._pixels[offset:offset + height * width * 3].reshape(height, width, 3)
        return Image.fromarray(np.array(array))


def decoded_images(paths: Sequence[Path], input_size: int, *, progress: Progress = no_progress,
                   cancel: Callable[[], bool] = no_cancel) -> DecodedImages | None:
    """The store for `paths` at `input_size`, built now if needed; None if it would be too big."""
    root = cache_root()
    folder = root / _store_key(paths, input_size)
    if (folder / "offsets.npy").is_file():
        os.utime(folder)
        return DecodedImages(folder)
    sizes = [working_size(*_upright_size(p), input_size) for p in paths]  # headers only
    total = sum(w * h * 3 for w, h in sizes)
    root.mkdir(parents=True, exist_ok=True)
    if total > MAX_BYTES or shutil.disk_usage(root).free < 2 * total:
        return None
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
    try:
        _build(paths, sizes, input_size, staging, progress, cancel)
        try:
            staging.rename(folder)
        except OSError:  # another process built the same store meanwhile: use theirs
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _prune(root)
    return DecodedImages(folder)


def _upright_size(path: Path) -> tuple[int, int]:
    """The size `load_rgb` gives the image: from its header when Pillow reads it, else (DICOM,
    HEIC, anything the scan's decoder reads and Pillow alone does not) by that same decoder,
    so that whatever the scan accepted trains."""
    if path.suffix.lower() not in DICOM_EXTENSIONS | HEIF_EXTENSIONS:
        try:
            with Image.open(path) as im:
                width, height = im.size
                if im.getexif().get(0x0112) in (5, 6, 7, 8):  # EXIF says the picture is turned 90°
                    width, height = height, width
            return width, height
        except (OSError, ValueError):
            pass
    try:
        return load_rgb(path).size
    except FlypError as exc:  # changed or removed since the folder was scanned
        raise FlypError(f"{exc}; scan the folder again") from None


def _build(paths, sizes, input_size, staging: Path, progress, cancel) -> None:
    table = np.zeros((len(paths), 3), dtype=np.int64)
    offset = 0
    for i, (w, h) in enumerate(sizes):
        table[i] = (offset, h, w)
        offset += w * h * 3
    pixels = np.memmap(staging / "pixels.bin", dtype=np.uint8, mode="w+", shape=(max(1, offset),))

    def decode(i: int) -> None:
        image = load_rgb(paths[i], draft_size=round(input_size * WORKING_SCALE))
        w, h = working_size(image.width, image.height, input_size)
        if (w, h) != image.size:
            image = image.resize((w, h), Image.Resampling.BICUBIC, reducing_gap=3.0)
        if (h, w) != (table[i, 1], table[i, 2]):  # draft/EXIF changed the size: fit to the slot
            image = image.resize((int(table[i, 2]), int(table[i, 1])), Image.Resampling.BICUBIC)
        start = int(table[i, 0])
        pixels[start:start + image.width * image.height * 3] = np.asarray(image, dtype=np.uint8).reshape(-1)

    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 2) * 2)) as pool:
        for done, _ in enumerate(pool.map(decode, range(len(paths))), 1):
            if done % 32 == 0:
                check_cancel(cancel)
                progress(done, len(paths))
    progress(len(paths), len(paths))
    pixels.flush()
    del pixels
    np.save(staging / "offsets.npy", table)


def _prune(root: Path) -> None:
    """Keep the most recently used stores only."""
    stores = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                    key=lambda p: p.stat().st_mtime, reverse=True)
    for old in stores[KEEP_STORES:]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in root.glob(".build-*"):
        if time.time() - stale.stat().st_mtime > 24 * 3600:
            shutil.rmtree(stale, ignore_errors=True)

"""Image features kept on disk: computed once per file and model, reused across sessions.

Each model has its own folder under the cache root, named after its key: a string that changes
whenever the image tower's weights or its preprocessing change (`Encoder.key`). A file is known
by the digest of its bytes (the one the folder scan computes), not by its path, so a picture
copied or moved into a class folder keeps its features. Every write is one shard — a
safetensors file holding N×D features, its metadata listing the N digests — written atomically:
a crash loses at most the batch being written and never leaves half a shard in use. Many
small shards are merged into one the next time the cache is opened.

`image_features` is the one loop that turns files into features, in batches, decoding in
threads while the model runs: the command line's `flyp predict`, the Label and Try pages and
the label checks all go through it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Protocol, Sequence

import torch

from core import atomic
from core.cpu_waiting import threads_sleep
from core.errors import FlypError, file_reason
from core.data.images import read_image_bytes
from core.data.transforms import eval_file
from core.progress import Progress, check_cancel, no_cancel, no_progress

FORMAT = "2"  # 2: large JPEGs decoded on the fast path (`eval_file`); features of format 1 are not reused
MERGE_AT = 32      # shards: more than this are merged into one when the cache is opened
KEEP_MODELS = 24   # the most recently used models keep their features; older folders are removed


class Encoder(Protocol):
    """What turns images into features: a key for the cache, the input size, where the tower
    runs ("cpu", "cuda"…), and the tower."""

    key: str
    image_size: int
    interpolation: str
    device: str

    def features(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 N×3×S×S images → N×D L2-normalised float features on the CPU."""


def cache_root() -> Path:
    from platformdirs import user_cache_path

    return Path(os.environ.get("FLYP_CACHE_DIR") or user_cache_path("FLYP Studio", appauthor=False)) / "features"


def digest_of(data: bytes) -> str:
    """The content digest a file is known by (the same as the folder scan's)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class FeatureCache:
    """The features of one model (`model_key`), by file digest; loaded from disk on first use."""

    def __init__(self, model_key: str, root: str | os.PathLike | None = None, *, unit_rows: bool = True):
        self.model_key = model_key
        self.unit_rows = unit_rows  # rows are L2-normalised features (False: other numbers per file, e.g. quality)
        name = hashlib.blake2b(f"{FORMAT}|{model_key}".encode(), digest_size=16).hexdigest()
        self.folder = Path(root) if root is not None else cache_root()
        self.folder = self.folder / name
        self._rows: dict[str, torch.Tensor] | None = None
        self._lock = threading.Lock()  # files are looked up from several loading threads at once

    def _load(self) -> dict[str, torch.Tensor]:
        with self._lock:
            if self._rows is None:
                rows = {}
                _prune(self.folder)
                shards = sorted(self.folder.glob("*.safetensors")) if self.folder.is_dir() else []
                for shard in shards:
                    rows.update(_read_shard(shard))
                self._rows = _consistent(rows, self.unit_rows)
                if len(shards) > MERGE_AT:
                    self._merge(shards)
        return self._rows

    def get(self, digest: str) -> torch.Tensor | None:
        return self._load().get(digest)

    def __len__(self) -> int:
        return len(self._load())

    def put(self, digests: Sequence[str], features: torch.Tensor) -> None:
        """Keep `features` (row i belongs to `digests[i]`), in memory and in a new shard on disk.

        A cache that cannot be written (a read-only or full disk) still keeps them for this
        session: the features are a convenience, never a reason to fail.
        """
        rows = self._load()
        if rows and next(iter(rows.values())).shape != features.shape[1:]:  # the cached rows were not this model's
            rows.clear()
        new = {}
        for digest, row in zip(digests, features):
            if digest not in rows:
                new[digest] = rows[digest] = row.clone()
        if new:
            self._write_shard(new)

    def _write_shard(self, rows: dict[str, torch.Tensor]) -> Path | None:
        keys = list(rows)
        path = self.folder / f"{digest_of(''.join(keys).encode())}.safetensors"
        try:
            atomic.save_safetensors({"features": torch.stack([rows[k] for k in keys]).float()}, path,
                                    metadata={"format": FORMAT, "model": self.model_key, "digests": json.dumps(keys)})
        except FlypError:
            return None
        return path

    def _merge(self, shards: list[Path]) -> None:
        merged = self._write_shard(self._rows or {})
        if merged is not None:
            for shard in shards:
                if shard != merged:
                    shard.unlink(missing_ok=True)


def _prune(folder: Path) -> None:
    """Mark `folder` as just used and remove the features of models unused the longest (a run at
    each α the user tried has its own folder)."""
    try:
        if folder.is_dir():
            os.utime(folder)
        models = sorted((p for p in folder.parent.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime,
                        reverse=True)
    except OSError:
        return
    for old in models[KEEP_MODELS:]:
        shutil.rmtree(old, ignore_errors=True)


def _read_shard(path: Path) -> dict[str, torch.Tensor]:
    """A shard's rows by digest; a damaged shard counts as empty (its features are computed again)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as f:
            keys = json.loads(f.metadata()["digests"])
            features = f.get_tensor("features")
    except Exception:  # noqa: BLE001 — any damage: recompute rather than fail
        return {}
    if (not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) or features.ndim != 2
            or not features.is_floating_point() or len(keys) != len(features)):
        return {}
    return dict(zip(keys, features))


def _consistent(rows: dict[str, torch.Tensor], unit_rows: bool = True) -> dict[str, torch.Tensor]:
    """The cached rows that can be features of one model: finite, L2-normalised (as `Encoder`
    gives them; unless not `unit_rows`), and of the width most rows have; any other entry is
    computed again, never used."""
    from collections import Counter

    if not rows:
        return rows
    width = Counter(row.shape[0] for row in rows.values()).most_common(1)[0][0]
    return {key: row for key, row in rows.items() if row.shape[0] == width and bool(torch.isfinite(row).all())
            and (not unit_rows or abs(float(row.norm()) - 1.0) < 1e-2)}


@dataclass
class ImageFeatures:
    """One file's outcome: its features (N×D row) and digest, or the reason it cannot be used."""

    path: Path
    digest: str = ""
    features: torch.Tensor | None = None
    reason: str = ""


def image_features(paths: Sequence[str | os.PathLike], encoder: Encoder, *, cache: FeatureCache | None = None,
                   batch_size: int = 64, progress: Progress = no_progress,
                   cancel: Callable[[], bool] = no_cancel) -> Iterator[list[ImageFeatures]]:
    """Yield the files' features a batch at a time, in order (cached ones without decoding).

    Files are read and decoded in threads; the next batch while the model encodes this one,
    unless the model needs every core for itself (`_decode_beside_model`). A file that
    cannot be used comes back with the reason the folder scan would give (unreadable, empty,
    not an image, truncated, too large…); the others go on.
    """
    paths = [Path(p) for p in paths]
    size, interpolation = encoder.image_size, encoder.interpolation

    def load(path: Path) -> tuple[ImageFeatures, torch.Tensor | None]:
        item = ImageFeatures(path)
        try:
            data = read_image_bytes(path)
            item.digest = digest_of(data)
            if cache is not None and (known := cache.get(item.digest)) is not None:
                item.features = known
                return item, None
            return item, eval_file(path, size, interpolation, data=data)
        except FlypError as exc:
            item.reason = file_reason(exc)
            return item, None

    batch_size = max(1, batch_size)
    chunks = [paths[i:i + batch_size] for i in range(0, len(paths), batch_size)]
    beside = _decode_beside_model(encoder)
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 2) * 2)) as pool:
        def decode(chunk: list[Path]) -> list:
            return [pool.submit(load, p) for p in chunk]

        pending = decode(chunks[0]) if chunks else []
        done = 0
        for index in range(len(chunks)):
            check_cancel(cancel)
            loaded = [f.result() for f in pending]
            following = chunks[index + 1] if index + 1 < len(chunks) else []
            if beside:
                pending = decode(following)
            _encode(loaded, encoder, cache)
            if not beside:
                pending = decode(following)
            done += len(loaded)
            progress(done, len(paths))
            yield [item for item, _ in loaded]


def _decode_beside_model(encoder: Encoder) -> bool:
    """Whether to decode the next batch while the model encodes this one: yes on a GPU, when
    PyTorch leaves CPU cores free, or when its threads sleep while they wait (chosen when the
    cores are shared: `core/cpu_waiting.py`). Not when spinning threads take every
    core: each of PyTorch's operations waits for its slowest thread, and decoding threads beside
    spinning ones stall it (on 2 busy cores a small ResNet took 1.0 ms per image with photos
    decoded beside it, 0.46 ms with them decoded before). With sleeping threads, beside is the
    faster (the ViT demo, 2 cores, 1920×1080 JPEGs: 3.26 against 3.36 ms per image idle, 4.46
    against 5.24 beside one busy process)."""
    return encoder.device != "cpu" or threads_sleep() or torch.get_num_threads() < (os.cpu_count() or 1)


def _encode(loaded: list[tuple[ImageFeatures, torch.Tensor | None]], encoder: Encoder,
            cache: FeatureCache | None) -> None:
    todo = [(item, pixels) for item, pixels in loaded if pixels is not None]
    if not todo:
        return
    features = encoder.features(torch.stack([pixels for _, pixels in todo]))
    for (item, _), row in zip(todo, features):
        item.features = row
    if cache is not None:
        cache.put([item.digest for item, _ in todo], features)


def all_features(paths: Sequence[str | os.PathLike], encoder: Encoder, **kwargs) -> list[ImageFeatures]:
    """`image_features` gathered into one list, in the order of `paths`."""
    return [item for batch in image_features(paths, encoder, **kwargs) for item in batch]

"""Opening a user's image file as an upright RGB picture, or saying why it cannot be."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import FlypError

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".jfif", ".ppm", ".pgm"}
)

# Larger images are refused rather than decoded: a "decompression bomb" can claim gigabytes.
MAX_PIXELS = 89_478_485  # Pillow's own warning threshold (~0.25 GB of RGBA)
MIN_SIDE = 2

# `load_rgb` refuses images above MAX_PIXELS itself. Pillow's warning for them is silenced once
# here rather than turned into an error per call: `warnings.catch_warnings` is not thread-safe,
# and scanning decodes in threads.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def read_image_bytes(path: str | Path) -> bytes:
    """The file's bytes; FlypError naming the file when it cannot be read or is empty (the
    reasons the folder scan gives)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        reason = "permission denied" if isinstance(exc, PermissionError) else (exc.strerror or str(exc))
        raise FlypError(f"{path}: cannot read file ({reason})") from None
    if not data:
        raise FlypError(f"{path}: empty file (0 bytes)")
    return data


def load_rgb(path: str | Path, draft_size: int | None = None, data: bytes | None = None) -> Image.Image:
    """Open, fully decode and convert `path` to an upright 8-bit RGB image.

    EXIF orientation is applied; grayscale, palette, alpha (composited on white), 16-bit and
    CMYK images become RGB; animated files give their first frame. `draft_size` lets JPEG
    decoding work at a reduced scale (still reading the whole file) when only a small
    version is needed; `data`, when given, is the file's content already read. Raises
    FlypError naming the file and the reason when it cannot be read.
    """
    path = Path(path)
    try:
        with Image.open(io.BytesIO(data) if data is not None else path) as im:
            if im.width * im.height > MAX_PIXELS:
                raise FlypError(f"{path}: image is too large to decode safely ({im.width}×{im.height} pixels)")
            if draft_size and im.format == "JPEG":
                im.draft("RGB", (draft_size, draft_size))
            im.load()
            rgb = _to_rgb(ImageOps.exif_transpose(im))
    except FlypError:
        raise
    except Image.DecompressionBombError:
        raise FlypError(f"{path}: image is too large to decode safely") from None
    except UnidentifiedImageError:
        raise FlypError(f"{path}: not an image (its content is in no picture format known)") from None
    except MemoryError:
        raise FlypError(f"{path}: image is too large to decode with the memory available") from None
    except Exception as exc:  # noqa: BLE001 — a damaged file can make any decoder fail in any way
        raise FlypError(f"{path}: unreadable image ({_reason(exc)})") from None
    if min(rgb.size) < MIN_SIDE:
        raise FlypError(f"{path}: image is too small ({rgb.width}×{rgb.height} pixels)")
    return rgb


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode == "RGB":
        return im.copy()
    if im.mode.startswith("I") or im.mode == "F":
        return _deep_grey_to_rgb(im)
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        im = im.convert("RGBA")
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, im).convert("RGB")
    return im.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV


def _deep_grey_to_rgb(im: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float grayscale → 8 bits, as image viewers show them.

    16-bit values map 0…65535 → 0…255 (so a dark image stays dark: brightness can be what
    tells classes apart), floats in [0, 1] map to 0…255; other ranges (32-bit counts, floats
    of any scale) are stretched from their minimum to their maximum. Pillow's own conversion
    would clip everything above 255 to white. Only finite values set the scale: NaN pixels
    become black, infinite ones the darkest or brightest; an image with no finite value is
    refused (ValueError).
    """
    import numpy as np

    a = np.asarray(im, dtype=np.float64)
    finite = np.isfinite(a)
    if not finite.any():
        raise ValueError("no finite pixel values (every pixel is NaN or infinite)")
    lo, hi = float(a[finite].min()), float(a[finite].max())  # the scale of the real values
    if im.mode.startswith("I;16") or (im.mode == "I" and lo >= 0 and hi <= 65535):
        lo, hi = 0.0, 65535.0
    elif im.mode == "F" and lo >= 0 and hi <= 1:
        lo, hi = 0.0, 1.0
    a = np.nan_to_num(a, nan=lo, posinf=hi, neginf=lo)  # NaN as black, ±inf as the extremes
    a = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
    return Image.fromarray(np.clip(a.round(), 0, 255).astype("uint8"), "L").convert("RGB")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "truncated" in text.lower() or isinstance(exc, EOFError):
        return "file is truncated"
    return text

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


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


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
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data) if data is not None else path) as im:
                if im.width * im.height > MAX_PIXELS:
                    raise FlypError(f"{path}: image is too large ({im.width}×{im.height} pixels)")
                if draft_size and im.format == "JPEG":
                    im.draft("RGB", (draft_size, draft_size))
                im.load()
                rgb = _to_rgb(ImageOps.exif_transpose(im))
    except FlypError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise FlypError(f"{path}: image is too large to decode safely") from None
    except UnidentifiedImageError:
        raise FlypError(f"{path}: not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise FlypError(f"{path}: unreadable image ({_reason(exc)})") from None
    if min(rgb.size) < MIN_SIDE:
        raise FlypError(f"{path}: image is too small ({rgb.width}×{rgb.height} pixels)")
    return rgb


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode == "RGB":
        return im.copy()
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit grayscale: scale to 8 bits by the image's own range, not by clipping.
        import numpy as np

        a = np.asarray(im, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
        return Image.fromarray(a.round().astype("uint8"), "L").convert("RGB")
    if im.mode == "F":
        return _to_rgb(im.convert("I"))
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        im = im.convert("RGBA")
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, im).convert("RGB")
    return im.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "truncated" in text.lower() or isinstance(exc, EOFError):
        return "file is truncated"
    return text

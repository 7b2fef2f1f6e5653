"""Opening a user's image file as an upright RGB picture, or saying why it cannot be.

Pillow reads the common formats; DICOM (`.dcm`, through pydicom) and HEIC/HEIF (through
pillow-heif) are read when their optional extras are installed, and are otherwise skipped with a
reason that names the extra to install.
"""

from __future__ import annotations

import io
import os
import stat
import threading
import warnings
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import FileError, FlypError, first_line

DICOM_EXTENSIONS = frozenset({".dcm", ".dicom"})
HEIF_EXTENSIONS = frozenset({".heic", ".heif"})
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".jfif", ".ppm", ".pgm"}
) | DICOM_EXTENSIONS | HEIF_EXTENSIONS
EXTRAS = {"dicom": ("a DICOM image", "pydicom"), "heic": ("a HEIC/HEIF photo", "pillow_heif")}

# Larger images are refused rather than decoded: a "decompression bomb" can claim gigabytes.
MAX_PIXELS = 89_478_485  # Pillow's own warning threshold (~0.25 GB of RGBA)
MIN_SIDE = 2

# `load_rgb` refuses images above MAX_PIXELS itself. Pillow's warning for them is silenced once
# here rather than turned into an error per call: `warnings.catch_warnings` is not thread-safe,
# and scanning decodes in threads.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


MAX_FILE_BYTES = 1 << 30  # 1 GiB: larger "images" are refused unread (a sparse 100 GB file, a device)


def read_image_bytes(path: str | Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The file's bytes; FlypError naming the file when it cannot be read, is empty, is not a
    regular file (a pipe, a device, a link to one: reading could block or never end) or holds
    more than `limit` bytes (the reasons the folder scan gives)."""
    try:
        kind = special_file_reason(path)
        if kind:
            raise FileError(path, f"{kind}")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a pipe swapped in cannot block
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise FileError(path, f"not a regular file")
            if info.st_size > limit:
                raise FileError(path, f"file too large ({_size(info.st_size)}; at most {_size(limit)})")
            data = f.read(limit + 1)
    except OSError as exc:
        reason = "permission denied" if isinstance(exc, PermissionError) else (exc.strerror or str(exc))
        raise FileError(path, f"cannot read file ({reason})") from None
    if len(data) > limit:
        raise FileError(path, f"file too large (more than {_size(limit)})")
    if not data:
        raise FileError(path, f"empty file (0 bytes)")
    return data


def special_file_reason(path: str | Path) -> str | None:
    """Why `path` is not a regular file to read, in words, or None when it is one."""
    mode = os.stat(path).st_mode  # follows links: a link to /dev/zero is a device
    if stat.S_ISREG(mode):
        return None
    what = ("a folder" if stat.S_ISDIR(mode) else "a pipe (FIFO)" if stat.S_ISFIFO(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a special file")
    link = "a symbolic link to " if os.path.islink(path) else ""
    return f"not a regular file ({link}{what})"


def file_problem(path: str | Path) -> str | None:
    """Why `path`, named as one image file, cannot be read, in words (no such file, a broken
    link, not a regular file: a folder, a pipe, a device…), or None when it is a regular file."""
    try:
        return special_file_reason(path)
    except FileNotFoundError:
        return "a broken symbolic link" if os.path.islink(path) else "no such file"
    except OSError as exc:
        return f"cannot read file ({exc.strerror or exc})"


def _size(n: int) -> str:
    return f"{n / 2**30:.3g} GiB" if n >= 2**30 else f"{n / 2**20:.3g} MiB"


def load_rgb(path: str | Path, draft_size: int | None = None, data: bytes | None = None) -> Image.Image:
    """Open, fully decode and convert `path` to an upright 8-bit RGB image.

    EXIF orientation is applied; grayscale, palette, alpha (composited on white), 16-bit and
    CMYK images become RGB; animated files give their first frame. `draft_size` lets JPEG
    decoding work at a reduced scale (still reading the whole file) when only a small
    version is needed; `data`, when given, is the file's content already read. Raises
    FlypError naming the file and the reason when it cannot be read.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if data is None:  # only a regular file of bounded size is ever opened
        data = read_image_bytes(path)
    if suffix in DICOM_EXTENSIONS:
        rgb = _dicom_rgb(path, data)
        if min(rgb.size) < MIN_SIDE:
            raise FileError(path, f"image is too small ({rgb.width}×{rgb.height} pixels)")
        return rgb
    if suffix in HEIF_EXTENSIONS:
        _register_heif(path)
    try:
        with Image.open(io.BytesIO(data) if data is not None else path) as im:
            if im.width * im.height > MAX_PIXELS:
                raise FileError(path, f"image is too large to decode safely ({im.width}×{im.height} pixels)")
            if draft_size and im.format == "JPEG":
                im.draft("RGB", (draft_size, draft_size))
            im.load()
            rgb = _to_rgb(ImageOps.exif_transpose(im))
    except FlypError:
        raise
    except Image.DecompressionBombError:
        raise FileError(path, f"image is too large to decode safely") from None
    except UnidentifiedImageError:
        raise FileError(path, f"not an image (its content is in no picture format known)") from None
    except MemoryError:
        raise FileError(path, f"image is too large to decode with the memory available") from None
    except Exception as exc:  # noqa: BLE001 — a damaged file can make any decoder fail in any way
        raise FileError(path, f"unreadable image ({_reason(exc)})") from None
    if min(rgb.size) < MIN_SIDE:
        raise FileError(path, f"image is too small ({rgb.width}×{rgb.height} pixels)")
    return rgb


def page_count(path: str | Path, data: bytes | None = None) -> int:
    """How many pages (frames) a multi-page TIFF has; 1 for any other file. `load_rgb` reads
    the first page only, which the scan says."""
    if Path(path).suffix.lower() not in (".tif", ".tiff"):
        return 1
    try:
        with Image.open(io.BytesIO(data) if data is not None else path) as im:
            return int(getattr(im, "n_frames", 1))
    except Exception:  # noqa: BLE001 — an unreadable file is reported by load_rgb
        return 1


def _extra(path: Path, name: str):
    """The optional module that reads `path`'s format, or FlypError naming the extra to install."""
    what, module = EXTRAS[name]
    try:
        return __import__(module)
    except ImportError:
        raise FileError(path, f"{what}; reading it needs the {name} extra: pip install 'flyp-studio[{name}]'") from None


_heif_lock = threading.Lock()


def _register_heif(path: Path) -> None:
    pillow_heif = _extra(path, "heic")
    with _heif_lock:  # scanning decodes in threads; Pillow's registry is shared
        _heif_opener(pillow_heif)


@lru_cache(maxsize=1)
def _heif_opener(pillow_heif) -> None:
    pillow_heif.register_heif_opener()


def _dicom_rgb(path: Path, data: bytes | None) -> Image.Image:
    """A DICOM image's first frame as RGB: colour as stored; grey values through the file's
    modality rescale and its own window (centre/width), else stretched from min to max."""
    import numpy as np

    pydicom = _extra(path, "dicom")
    try:
        ds = pydicom.dcmread(io.BytesIO(data) if data is not None else path)
        if int(ds.Rows) * int(ds.Columns) > MAX_PIXELS:
            raise FileError(path, f"image is too large to decode safely ({ds.Columns}×{ds.Rows} pixels)")
        pixels = ds.pixel_array
        if int(getattr(ds, "NumberOfFrames", 1) or 1) > 1:
            pixels = pixels[0]
        photometric = str(getattr(ds, "PhotometricInterpretation", "MONOCHROME2"))
        if pixels.ndim == 3:  # colour
            if photometric.startswith("YBR"):
                from pydicom.pixels import convert_color_space

                pixels = convert_color_space(pixels, photometric, "RGB")
            return Image.fromarray(_to_uint8(pixels.astype(np.float64), 0.0, float(2 ** int(ds.BitsStored) - 1)), "RGB")
        values = pixels.astype(np.float64) * float(getattr(ds, "RescaleSlope", 1) or 1) \
            + float(getattr(ds, "RescaleIntercept", 0) or 0)
    except FlypError:
        raise
    except MemoryError:
        raise FileError(path, f"image is too large to decode with the memory available") from None
    except Exception as exc:  # noqa: BLE001 — a damaged or unsupported file can fail in any way
        raise FileError(path, f"unreadable DICOM image ({_reason(exc)})") from None
    centre, width = _first_value(getattr(ds, "WindowCenter", None)), _first_value(getattr(ds, "WindowWidth", None))
    if centre is not None and width is not None and width >= 1:
        # DICOM's linear window (PS3.3 C.11.2.1.2): centre − 0.5 ± (width − 1) / 2 spans black to white.
        low, high = centre - 0.5 - (width - 1) / 2, centre - 0.5 + (width - 1) / 2
    else:
        low, high = float(values.min()), float(values.max())
    grey = _to_uint8(values, low, high)
    if photometric == "MONOCHROME1":  # low values are white
        grey = 255 - grey
    return Image.fromarray(grey, "L").convert("RGB")


def _first_value(value) -> float | None:
    """A DICOM number that may hold several values (one window per preset): the first."""
    from collections.abc import Sequence

    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        value = value[0] if len(value) else None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _to_uint8(values, low: float, high: float):
    import numpy as np

    scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
    return np.clip(scaled.round(), 0, 255).astype("uint8")


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
    text = first_line(exc)
    if "truncated" in text.lower() or isinstance(exc, EOFError):
        return "file is truncated"
    return text

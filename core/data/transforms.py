"""Image preprocessing: open_clip's evaluation transform and a seeded training augmentation.

Training crops are drawn from a generator keyed by (seed, epoch, image index) instead of the
global RNG, so a resumed run, a run with other DataLoader workers and a multi-GPU run see the
very same augmented images. The augmentation has presets for kinds of images (`augmented`);
evaluation and zero-shot always use open_clip's transform, whatever the preset; new images
(`flyp predict`, the Try and Label pages) go through `eval_file`, its fast version for large photos.
"""

from __future__ import annotations

import math
import random

import torch
from PIL import Image

from core.data.images import load_rgb

_INTERPOLATION = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR,
                  "nearest": Image.Resampling.NEAREST}

CROP_SCALE = (0.9, 1.0)  # FLYP's (and open_clip's) RandomResizedCrop scale
CROP_RATIO = (3 / 4, 4 / 3)

DOCUMENT_TILT = 3.0  # the "documents" preset: how far a scanned page may tilt, either way (degrees)

# New images (`eval_file`): a JPEG is decoded at a reduced scale when its shorter side stays at
# least DRAFT_MARGIN × the input size, and a large image is first shrunk by a whole factor when
# that leaves REDUCING_GAP × the input size (Pillow's `reducing_gap`) before the bicubic resize.
DRAFT_MARGIN = 2
REDUCING_GAP = 3.0


def sample_rng(seed: int, epoch: int, index: int) -> random.Random:
    return random.Random(f"{seed}/{epoch}/{index}")


def random_resized_crop_box(width: int, height: int, rng: random.Random) -> tuple[float, float, float, float]:
    """torchvision's RandomResizedCrop parameters drawn from `rng`, as a (left, top, w, h) box.

    The box is continuous (PIL resamples fractional boxes), so the same draws give the same
    relative crop of an image at any resolution — of the original or of the decoded cache.
    """
    area = width * height
    log_ratio = (math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1]))
    for _ in range(10):
        target = area * rng.uniform(*CROP_SCALE)
        ratio = math.exp(rng.uniform(*log_ratio))
        w, h = math.sqrt(target * ratio), math.sqrt(target / ratio)
        if w <= width and h <= height:
            return rng.random() * (width - w), rng.random() * (height - h), w, h
    # Fallback: the whole image, cropped to the allowed ratio range (as torchvision does).
    in_ratio = width / height
    w, h = width, height
    if in_ratio < CROP_RATIO[0]:
        h = width / CROP_RATIO[0]
    elif in_ratio > CROP_RATIO[1]:
        w = height * CROP_RATIO[1]
    return (width - w) / 2, (height - h) / 2, w, h


class Normalize:
    """uint8 CHW tensors → normalised float tensors, as CLIP expects."""

    def __init__(self, mean, std):
        self.mean = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        mean, std = self.mean.to(images.device), self.std.to(images.device)
        return (images.float() / 255.0 - mean) / std


def to_uint8_tensor(image: Image.Image) -> torch.Tensor:
    return torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8).view(
        image.height, image.width, 3).permute(2, 0, 1).contiguous()


def train_image(image: Image.Image, size: int, rng: random.Random, interpolation: str = "bicubic",
                augment: str = "photos") -> torch.Tensor:
    """The training augmentation `augment` of `image` at `size`², as a uint8 CHW tensor."""
    return to_uint8_tensor(augmented(image, size, rng, interpolation, augment))


def augmented(image: Image.Image, size: int, rng: random.Random, interpolation: str = "bicubic",
              augment: str = "photos") -> Image.Image:
    """Random-resized crop (scale 0.9–1) to `size`², then what the preset `augment` adds.

    "photos" draws exactly what FLYP's crop always drew, so runs made before presets existed
    resume and repeat unchanged."""
    left, top, w, h = random_resized_crop_box(image.width, image.height, rng)
    resample = _INTERPOLATION[interpolation]
    if augment in ("aerial", "documents"):
        limit = 180.0 if augment == "aerial" else DOCUMENT_TILT
        crop = rotated_crop(image, (left, top, w, h), rng.uniform(-limit, limit), size, resample)
    else:
        crop = image.resize((size, size), resample, box=(left, top, left + w, top + h))
    if augment == "microscopy":  # one of the 8 symmetries of a square, each as likely
        crop = crop.transpose(rng.choice(_DIHEDRAL)) if rng.random() < 7 / 8 else crop
    if augment == "aerial" and rng.random() < 0.5:  # with the turn by any angle: every orientation
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if augment == "grayscale":
        crop = crop.convert("L").convert("RGB")
    return crop


# The 7 flips and quarter turns other than the identity (with it: the 8 symmetries of a square).
_DIHEDRAL = (Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.FLIP_TOP_BOTTOM, Image.Transpose.ROTATE_90,
             Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270, Image.Transpose.TRANSPOSE,
             Image.Transpose.TRANSVERSE)


def rotated_crop(image: Image.Image, box: tuple[float, float, float, float], degrees: float, size: int,
                 resample) -> Image.Image:
    """A square `size`² view of `box` turned by `degrees`: the largest square centred in the box
    whose turned corners stay inside it, so no empty corners appear."""
    left, top, w, h = box
    turn = math.radians(degrees)
    cos, sin = math.cos(turn), math.sin(turn)
    side = min(w, h) / (abs(cos) + abs(sin))
    scale = side / size
    cx, cy = left + w / 2, top + h / 2
    # PIL's affine maps output pixel (x, y) to input (a·x + b·y + c, d·x + e·y + f).
    a, b, d, e = scale * cos, -scale * sin, scale * sin, scale * cos
    c = cx - a * size / 2 - b * size / 2
    f = cy - d * size / 2 - e * size / 2
    return image.transform((size, size), Image.Transform.AFFINE, (a, b, c, d, e, f), resample=resample)


def eval_file(path, size: int, interpolation: str = "bicubic", data: bytes | None = None) -> torch.Tensor:
    """`eval_image` of the image file at `path` (`data`: its bytes, already read), made fast for
    large photos: a 12-megapixel JPEG takes ~15 ms instead of ~130 ms at 224 px, and its pixels
    differ from the exact transform's by about 0.1 of a level on average (a few at most).

    The file is decoded by `load_rgb` (FlypError names it when it cannot be). An image whose
    shorter side is under 2 × DRAFT_MARGIN × `size` comes out exactly as `eval_image` makes it.
    The two halves, for a caller that also needs the decoded image: `open_new_image`, `eval_new_image`.
    """
    return eval_new_image(open_new_image(path, size, data), size, interpolation)


def open_new_image(path, size: int, data: bytes | None = None) -> Image.Image:
    """`eval_file`'s decoding: a JPEG at a reduced scale that keeps DRAFT_MARGIN × `size`."""
    return load_rgb(path, draft_size=DRAFT_MARGIN * size, data=data)


def eval_new_image(image: Image.Image, size: int, interpolation: str = "bicubic") -> torch.Tensor:
    """`eval_file`'s resize and crop: `eval_image`, a large image first shrunk by a whole factor."""
    return eval_image(image, size, interpolation, reducing_gap=REDUCING_GAP)


def eval_image(image: Image.Image, size: int, interpolation: str = "bicubic",
               reducing_gap: float | None = None) -> torch.Tensor:
    """Resize the shorter side to `size`, centre crop (open_clip's eval transform), uint8 CHW.

    `reducing_gap` (see Pillow's `Image.resize`) trades exactness for speed on large images."""
    # torchvision's Resize(size): the longer side is truncated, not rounded.
    if image.width <= image.height:
        w, h = size, int(size * image.height / image.width)
    else:
        w, h = int(size * image.width / image.height), size
    resized = image.resize((w, h), _INTERPOLATION[interpolation], reducing_gap=reducing_gap)
    left, top = int(round((w - size) / 2.0)), int(round((h - size) / 2.0))
    return to_uint8_tensor(resized.crop((left, top, left + size, top + size)))

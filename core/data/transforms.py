"""Image preprocessing: open_clip's evaluation transform and a seeded training augmentation.

Training crops are drawn from a generator keyed by (seed, epoch, image index) instead of the
global RNG, so a resumed run, a run with other DataLoader workers and a multi-GPU run see the
very same augmented images.
"""

from __future__ import annotations

import math
import random

import torch
from PIL import Image

_INTERPOLATION = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR,
                  "nearest": Image.Resampling.NEAREST}

CROP_SCALE = (0.9, 1.0)  # FLYP's (and open_clip's) RandomResizedCrop scale
CROP_RATIO = (3 / 4, 4 / 3)


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


def train_image(image: Image.Image, size: int, rng: random.Random, interpolation: str = "bicubic") -> torch.Tensor:
    """Random-resized crop (scale 0.9–1) to `size`², as a uint8 CHW tensor."""
    left, top, w, h = random_resized_crop_box(image.width, image.height, rng)
    crop = image.resize((size, size), _INTERPOLATION[interpolation], box=(left, top, left + w, top + h))
    return to_uint8_tensor(crop)


def eval_image(image: Image.Image, size: int, interpolation: str = "bicubic") -> torch.Tensor:
    """Resize the shorter side to `size`, centre crop (open_clip's eval transform), uint8 CHW."""
    # torchvision's Resize(size): the longer side is truncated, not rounded.
    if image.width <= image.height:
        w, h = size, int(size * image.height / image.width)
    else:
        w, h = int(size * image.width / image.height), size
    resized = image.resize((w, h), _INTERPOLATION[interpolation])
    left, top = int(round((w - size) / 2.0)), int(round((h - size) / 2.0))
    return to_uint8_tensor(resized.crop((left, top, left + size, top + size)))

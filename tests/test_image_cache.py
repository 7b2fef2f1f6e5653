"""Training images decoded once: same crops as decoding every time, rebuilt when files change."""

import os
import random

from PIL import Image

from core.data.image_cache import decoded_images, working_size
from core.data.images import load_rgb
from core.data.transforms import train_image


def make_jpegs(folder, n=4, size=(160, 120)):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"{i}.jpg"
        Image.effect_mandelbrot(size, (-2 + i * 0.1, -1, 1, 1), 40).convert("RGB").save(path, quality=92)
        paths.append(path)
    return paths


def test_cached_crops_match_crops_of_the_decoded_files(tmp_path):
    paths = make_jpegs(tmp_path / "imgs")
    store = decoded_images(paths, input_size=32)
    assert len(store) == 4
    for i, path in enumerate(paths):
        cached = store.image(i)
        assert cached.size == working_size(160, 120, 32) == (53, 40)
        fresh = load_rgb(path)
        a = train_image(cached, 32, random.Random(i))
        b = train_image(fresh, 32, random.Random(i))
        # The same crop box, resampled from 1.25× instead of full resolution: close, not bit-equal.
        assert (a.float() - b.float()).abs().mean() < 3.0


def test_store_is_reused_and_rebuilt_when_a_file_changes(tmp_path):
    paths = make_jpegs(tmp_path / "imgs", n=2)
    first = decoded_images(paths, 32)
    assert decoded_images(paths, 32).folder == first.folder
    Image.new("RGB", (160, 120), (255, 0, 0)).save(paths[1])
    os.utime(paths[1], ns=(1, 1))  # a different modification time
    second = decoded_images(paths, 32)
    assert second.folder != first.folder
    red, green, blue = second.image(1).getpixel((5, 5))
    assert red > 240 and green < 15 and blue < 15  # the new (red, JPEG-coded) pixels


def test_exif_rotated_images_keep_their_upright_shape(tmp_path):
    image = Image.new("RGB", (80, 40), (0, 0, 255))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90° when displayed
    path = tmp_path / "turned.jpg"
    image.save(path, exif=exif)
    store = decoded_images([path], 16)
    assert load_rgb(path).size == (40, 80)  # upright: taller than wide
    assert store.image(0).size == working_size(40, 80, 16) == (20, 40)

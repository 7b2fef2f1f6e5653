import random

import open_clip
import torch
from PIL import Image

from core.data.transforms import Normalize, eval_image, train_image


def test_eval_transform_matches_open_clip():
    image = Image.effect_mandelbrot((97, 61), (-2, -1, 1, 1), 50).convert("RGB")
    preprocess = open_clip.image_transform(32, is_train=False)
    expected = preprocess(image)
    ours = Normalize(open_clip.OPENAI_DATASET_MEAN, open_clip.OPENAI_DATASET_STD)(eval_image(image, 32))
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=0)


def test_training_crops_are_seeded_and_vary():
    image = Image.effect_mandelbrot((80, 60), (-2, -1, 1, 1), 50).convert("RGB")
    a = train_image(image, 32, random.Random("1/0/5"))
    b = train_image(image, 32, random.Random("1/0/5"))
    c = train_image(image, 32, random.Random("1/1/5"))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == (3, 32, 32) and a.dtype == torch.uint8


def _photo(width: int, height: int) -> Image.Image:
    """A photo-like picture: smooth shapes under a fine grain (what JPEG's scaled decoding blurs)."""
    picture = Image.effect_mandelbrot((width, height), (-2, -1.2, 1, 1.2), 60).convert("RGB")
    return Image.blend(picture, Image.effect_noise((width, height), 40).convert("RGB"), 0.2)


def test_new_images_of_a_large_photo_are_decoded_fast_and_barely_differ(tmp_path):
    from core.data.images import load_rgb
    from core.data.transforms import eval_file

    path = tmp_path / "photo.jpg"
    _photo(1600, 1200).save(path, quality=90)
    exact = eval_image(load_rgb(path), 64).int()
    fast = eval_file(path, 64).int()
    assert fast.shape == exact.shape == (3, 64, 64)
    assert not torch.equal(fast, exact)  # decoded at an eighth of the size, then resized
    assert (fast - exact).abs().float().mean() < 1.0 and (fast - exact).abs().max() <= 16


def test_new_images_come_out_exactly_when_no_shortcut_applies(tmp_path):
    from core.data.images import load_rgb
    from core.data.transforms import eval_file

    # a JPEG under 4× the input size (no reduced-scale decoding), a PNG under 6× it (no whole-factor shrink)
    for name, (width, height), size in (("small.jpg", (255, 200), 64), ("large.png", (1600, 1200), 224)):
        _photo(width, height).save(tmp_path / name)
        assert torch.equal(eval_file(tmp_path / name, size), eval_image(load_rgb(tmp_path / name), size)), name


def test_a_turned_photo_is_read_upright_on_the_fast_path(tmp_path):
    from core.data.images import load_rgb
    from core.data.transforms import eval_file

    upright = Image.blend(_photo(900, 1600), Image.linear_gradient("L").resize((900, 1600)).convert("RGB"), 0.7)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: shown after turning 90° clockwise
    upright.transpose(Image.Transpose.ROTATE_90).save(tmp_path / "turned.jpg", quality=95, exif=exif)
    fast = eval_file(tmp_path / "turned.jpg", 48).int()
    exact = eval_image(load_rgb(tmp_path / "turned.jpg"), 48).int()
    sideways = eval_image(load_rgb(tmp_path / "turned.jpg").transpose(Image.Transpose.ROTATE_90), 48).int()
    assert (fast - exact).abs().float().mean() < 3.0  # the grain, decoded at an eighth of the size
    assert (fast - sideways).abs().float().mean() > 10.0

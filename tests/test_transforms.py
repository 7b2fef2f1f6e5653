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

"""The generated world: deterministic from its seed, varied, and captioned in words."""

from __future__ import annotations

import dataclasses
import random

import pytest
from PIL import Image, ImageChops

from core.demo import world


def _fingerprint(seed, count=6, size=32):
    return [(image.tobytes(), caption) for image, caption in world.pairs(seed, image_size=size, count=count)]


def test_same_seed_gives_identical_pixels_and_captions():
    assert _fingerprint(7) == _fingerprint(7)


def test_different_seeds_give_different_images_and_captions():
    first, second = _fingerprint(7), _fingerprint(8)
    assert all(a[0] != b[0] for a, b in zip(first, second))
    assert [c for _, c in first] != [c for _, c in second]


def test_an_example_can_be_redrawn_alone_out_of_order():
    streamed = list(world.pairs("stream", image_size=32, count=4))
    image, caption, _ = world.example("stream", 3, image_size=32)
    assert image.tobytes() == streamed[3][0].tobytes() and caption == streamed[3][1]


@pytest.mark.parametrize("style", world.STYLES)
@pytest.mark.parametrize("clutter", world.CLUTTER)
def test_every_style_and_shape_renders_an_rgb_image_of_the_asked_size(style, clutter):
    for index, shape in enumerate(world.SHAPES):
        scene = world.sample_scene(random.Random(index), shape=shape, style=style, clutter=clutter)
        image = world.render(scene, 48, random.Random(index))
        assert isinstance(image, Image.Image) and image.mode == "RGB" and image.size == (48, 48)
        # The object must be visible: the image is not one flat colour.
        assert len(image.getcolors(48 * 48)) > 8


def test_fixed_attributes_are_respected_and_tuples_are_drawn_from():
    rng = random.Random(0)
    scenes = [world.sample_scene(rng, style="sketch", background=("plain", "dotted")) for _ in range(50)]
    assert {s.style for s in scenes} == {"sketch"}
    assert {s.background for s in scenes} == {"plain", "dotted"}


@pytest.mark.parametrize("fixed", [{"shape": "blob"}, {"texture": "rough"}, {"colour": ()}])
def test_unknown_attributes_or_values_are_rejected_with_a_reason(fixed):
    with pytest.raises(ValueError, match="shape|texture|colour"):
        world.sample_scene(random.Random(0), **fixed)


def test_captions_always_name_the_shape_and_sometimes_omit_other_words():
    rng = random.Random(1)
    scenes = [world.sample_scene(rng) for _ in range(300)]
    captions = [world.describe(scene, rng) for scene in scenes]
    assert all(scene.shape in caption for scene, caption in zip(scenes, captions))
    with_colour = sum(scene.colour in caption for scene, caption in zip(scenes, captions))
    with_size = sum(scene.size in caption for scene, caption in zip(scenes, captions))
    assert 0.5 * len(scenes) < with_colour < len(scenes)
    assert 0.2 * len(scenes) < with_size < 0.8 * len(scenes)
    assert len(set(captions)) > 250  # varied phrasing, not one template


def test_style_words_appear_in_captions_of_that_style():
    rng = random.Random(2)
    words = {"photo": "photo", "sketch": "sketch", "painting": "paint", "cartoon": "cartoon"}
    for style, word in words.items():
        captions = [world.describe(world.sample_scene(rng, style=style), rng) for _ in range(100)]
        assert sum(word in c for c in captions) > 30, style


def test_clutter_adds_things_around_the_object_and_captions_may_say_so():
    rng = random.Random(3)
    for index in range(10):
        scene = world.sample_scene(random.Random(index), style="cartoon", background="plain", clutter="clear")
        clear = world.render(scene, 64, random.Random(index))
        cluttered = world.render(dataclasses.replace(scene, clutter="cluttered"), 64, random.Random(index))
        # More distinct colours: the clutter comes in colours other than the object's.
        assert len(cluttered.getcolors(64 * 64)) > len(clear.getcolors(64 * 64))
    scenes = [world.sample_scene(rng, clutter="cluttered") for _ in range(100)]
    captions = [world.describe(scene, rng) for scene in scenes]
    assert 20 < sum(any(p in c for p in ("clutter", "other things", "junk")) for c in captions) < 80


def _drawn_pixels(image: Image.Image) -> int:
    """How many pixels are not the plain background's tone (its most common colour)."""
    background = Image.new("RGB", image.size, max(image.getcolors(image.width * image.height))[1])
    return ImageChops.difference(image, background).convert("L").point(lambda v: 255 if v else 0).histogram()[255]


def test_a_distractor_is_a_second_shape_nearly_as_large_in_the_same_scene():
    grown = []
    for index in range(10):
        alone, _, scene = world.example("d", index, 64, style="cartoon", background="plain", clutter="clear",
                                        size="large")
        beside, _, scene_beside = world.example("d", index, 64, distractor=0.85, style="cartoon",
                                                background="plain", clutter="clear", size="large")
        assert scene_beside == scene  # nothing a caption could say about it
        grown.append(_drawn_pixels(beside) / _drawn_pixels(alone))
    # 0.85 of the object's radius: about 0.7 of its area more, less where the two overlap.
    assert 1.35 < sum(grown) / len(grown) < 1.9

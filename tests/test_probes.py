"""The demo's trust probes: where the world drew its things, scenes of none of the shapes, two
objects side by side, and the colour control."""

from __future__ import annotations

import random

import numpy as np
from PIL import ImageChops

from core.demo import probes, world
from core.demo.task import DEMO_CLASSES, split_image, split_scenes


def test_the_located_image_is_the_demo_split_image_and_its_masks_cover_object_and_distractor():
    for index in range(4):
        layers = probes.located_split_image(0, "val", "star", index)
        assert ImageChops.difference(layers.image, split_image(0, "val", "star", index)).getbbox() is None
        own, other = np.asarray(layers.object) > 127, np.asarray(layers.distractor) > 127
        assert own.sum() > 100 and other.sum() > 50       # a large object, a distractor nearly as large
        assert (own & other).sum() < 0.2 * own.sum()       # two different places in the picture


def test_a_foreign_scene_has_no_object_but_the_same_kind_of_background():
    empty = probes.foreign_image(0, 3)
    assert empty.size == (64, 64) and empty.mode == "RGB"
    rng = random.Random("flyp-foreign:0:3")
    full = world.render_layers(world.sample_scene(rng, **split_scenes("val")), 64, rng)
    assert np.asarray(full.object).sum() > 0
    # Same rng stream: drawn without the object, the picture differs only where the object was.
    changed = np.asarray(ImageChops.difference(empty, full.image).convert("L")) > 8
    assert changed.sum() > 50 and (changed & (np.asarray(full.object) < 64)).sum() < 0.2 * changed.sum()


def test_side_by_side_draws_each_shape_on_its_own_half():
    image, left, right = probes.side_by_side("star", "circle")
    xs_left = np.nonzero(np.asarray(left) > 127)[1]
    xs_right = np.nonzero(np.asarray(right) > 127)[1]
    assert xs_left.mean() < 32 < xs_right.mean()
    assert image.size == (64, 64)
    for pair in probes.shape_pairs((5,)):  # each object wholly in its half, filling it as a task photo's object
        _, left, right = probes.side_by_side(*pair)
        for mask, half in ((left, (0, 32)), (right, (32, 64))):
            ys, xs = np.nonzero(np.asarray(mask) > 127)
            assert half[0] <= xs.min() and xs.max() < half[1], (pair, half)
            assert max(xs.max() - xs.min(), ys.max() - ys.min()) >= 16, (pair, half)  # half the half's width
    assert [h.size for h in probes.halves(image)] == [(32, 64), (32, 64)]
    assert len(probes.shape_pairs()) == 132 and all(a != b for a, b in probes.shape_pairs())


def test_the_folders_are_written_with_progress(tmp_path):
    seen = []
    assert probes.write_foreign_folder(tmp_path / "foreign", count=3, progress=lambda d, t: seen.append((d, t))) == 3
    assert sorted(p.name for p in (tmp_path / "foreign").iterdir()) == ["0000.png", "0001.png", "0002.png"]
    assert seen[-1] == (3, 3)
    assert probes.write_colour_control(tmp_path / "colours", per_class=1) == len(probes.COLOUR_CLASSES)
    assert sorted(p.name for p in (tmp_path / "colours").iterdir()) == sorted(probes.COLOUR_CLASSES)
    assert len(probes.COLOUR_TEMPLATES) == len(DEMO_CLASSES)

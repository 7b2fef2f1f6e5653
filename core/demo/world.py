"""A procedurally generated world of images and captions, the demo model's pretraining data.

A scene is one object (shape, colour, size, position) on a background, rendered in a style
("photo", "sketch", "painting", "cartoon", "pixel"), alone or among clutter: lumps and scribbles
that are none of the shapes, one of which may hide part of the object. Every scene has a caption in plain words
with varied phrasing that sometimes leaves attributes out, so that a contrastively trained
model learns each word on its own. Everything is drawn with Pillow from a `random.Random`, so
a seed fixes every pixel and every word.
"""

from __future__ import annotations

import dataclasses
import math
import random
from typing import Iterator

from PIL import Image, ImageChops, ImageDraw, ImageFilter

SHAPES = ("circle", "square", "triangle", "star", "heart", "cross", "ring", "diamond", "hexagon", "crescent",
          "pentagon", "octagon")
COLOURS = {
    "red": (205, 35, 35),
    "orange": (240, 135, 25),
    "yellow": (240, 215, 35),
    "green": (45, 155, 55),
    "blue": (35, 75, 205),
    "purple": (125, 55, 175),
    "pink": (240, 130, 185),
    "brown": (115, 70, 35),
}
SIZES = ("small", "large")
POSITIONS = ("middle", "left", "right", "top", "bottom")
BACKGROUNDS = ("plain", "striped", "dotted", "checkered", "gradient")
STYLES = ("photo", "sketch", "painting", "cartoon", "pixel")
CLUTTER = ("clear", "cluttered")  # cluttered: other things around the object, one may hide part of it

# Muted tones keep the object's colour the only saturated one, so colour words in a caption
# always refer to the object.
_BACKGROUND_TONES = (
    (228, 228, 228), (236, 226, 204), (200, 210, 222), (190, 205, 185), (245, 244, 238),
    (70, 70, 76), (45, 50, 72), (150, 150, 155), (215, 200, 215), (120, 110, 100),
)
_PAPER_TONES = ((250, 250, 246), (244, 238, 222), (236, 238, 240))
_SUPERSAMPLE = 2  # drawn at twice the size, then downsampled: cheap anti-aliasing

_CHOICES = {
    "shape": SHAPES, "colour": tuple(COLOURS), "size": SIZES,
    "position": POSITIONS, "background": BACKGROUNDS, "style": STYLES, "clutter": CLUTTER,
}


@dataclasses.dataclass(frozen=True)
class Scene:
    """The captionable attributes of one image; rendering details come from the rng."""

    shape: str
    colour: str
    size: str
    position: str
    background: str
    style: str
    clutter: str = "clear"


def sample_scene(rng: random.Random, **fixed_attributes: str | tuple[str, ...]) -> Scene:
    """Draw a scene uniformly over every attribute, except those fixed by keyword.

    A fixed attribute is a single value (`style="photo"`) or a tuple to draw from
    (`background=("plain", "gradient")`). Raises ValueError for an unknown attribute or value.
    """
    values = {}
    for name, choices in _CHOICES.items():
        fixed = fixed_attributes.pop(name, None)
        allowed = (fixed,) if isinstance(fixed, str) else tuple(fixed) if fixed is not None else choices
        unknown = [v for v in allowed if v not in choices]
        if unknown or not allowed:
            raise ValueError(f"{name}={fixed!r} is not valid; choose from {', '.join(choices)}")
        values[name] = rng.choice(allowed)
    if fixed_attributes:
        raise ValueError(f"unknown scene attribute(s) {sorted(fixed_attributes)}; known: {', '.join(_CHOICES)}")
    return Scene(**values)


def render(scene: Scene, size: int, rng: random.Random, distractor: float = 0.0) -> Image.Image:
    """Draw `scene` as a `size`×`size` RGB image; the rng picks placement, tones and texture.

    With `distractor` > 0, another of the shapes, `distractor` times the object's size, is drawn
    flat among the background's things, as a print or a poster would be: a scene the captions
    never mention and pretraining never shows (the demo task's distractor).
    """
    return render_layers(scene, size, rng, distractor).image


@dataclasses.dataclass(frozen=True)
class Layers:
    """A rendered scene and where its things are: "L" masks at the image's size (255 inside),
    the object's as it is seen (clutter in front of it cut out), the distractor's (None without)."""

    image: Image.Image
    object: Image.Image
    distractor: Image.Image | None


def render_layers(scene: Scene, size: int, rng: random.Random, distractor: float = 0.0,
                  empty: bool = False) -> Layers:
    """`render`, with the masks of the object and the distractor (the same pixels from the same
    rng). `empty`: the scene without its object — background, clutter and style only."""
    w = size * _SUPERSAMPLE
    background = _background(scene, w, rng)
    mask = _shape_mask(scene, w, rng)
    colour = _jitter(COLOURS[scene.colour], rng, 18)
    other = _distractor_mask(scene, mask, rng, distractor) if distractor else None
    if scene.clutter == "cluttered":
        background, mask = _clutter(scene, background, mask, rng)
    if other is not None:
        background = _draw_thing(scene, background, other, rng)
    if empty:
        mask = Image.new("L", mask.size, 0)
    image = _STYLE_PAINTERS[scene.style](background, mask, colour, rng)
    small = (size, size)
    return Layers(image.resize(small, Image.Resampling.BOX), mask.resize(small, Image.Resampling.BOX),
                  other.resize(small, Image.Resampling.BOX) if other is not None else None)


def describe(scene: Scene, rng: random.Random) -> str:
    """A caption for `scene`, in one of several phrasings, often leaving attributes out.

    The shape is always named; style, colour, size, background and position each appear with
    their own probability, so single words ("a photo of a star.") stay meaningful.
    """
    colour = scene.colour if rng.random() < 0.75 else ""
    size = scene.size if rng.random() < 0.45 else ""
    noun = " ".join(w for w in (size, colour, scene.shape) if w)
    article = rng.choice(("a", "a", "the"))
    if article == "a" and noun[0] in "aeiou":
        article = "an"
    thing = f"{article} {noun}"
    extras = []
    if rng.random() < 0.45:
        extras.append(rng.choice(_BACKGROUND_PHRASES[scene.background]))
    if rng.random() < 0.3:
        extras.append(_POSITION_PHRASES[scene.position])
    if scene.clutter == "cluttered" and rng.random() < 0.5:
        extras.append(rng.choice(_CLUTTER_PHRASES))
    rng.shuffle(extras)
    thing = " ".join([thing, *extras])
    if rng.random() < 0.8:
        frame = rng.choice(_STYLE_PHRASES[scene.style])
    else:
        frame = rng.choice(("{}", "an image of {}", "a picture of {}", "there is {}"))
    caption = frame.format(thing)
    return caption + ("." if rng.random() < 0.7 else "")


def example(seed: int | str, index: int, image_size: int = 64, distractor: float = 0.0,
            **fixed_attributes) -> tuple[Image.Image, str, Scene]:
    """The `index`-th (image, caption, scene) of the world drawn from `seed`.

    Each example has its own rng, derived from (seed, index), so any example can be redrawn
    alone, in any order, in any process. A string seed names an independent stream
    (the demo data uses one per split and class). `distractor` as in `render`.
    """
    layers, caption, scene = example_layers(seed, index, image_size, distractor, **fixed_attributes)
    return layers.image, caption, scene


def example_layers(seed: int | str, index: int, image_size: int = 64, distractor: float = 0.0,
                   **fixed_attributes) -> tuple[Layers, str, Scene]:
    """`example`, with the masks of its object and distractor (`render_layers`)."""
    rng = random.Random(f"flyp-world:{seed}:{index}")
    scene = sample_scene(rng, **fixed_attributes)
    layers = render_layers(scene, image_size, rng, distractor)
    return layers, describe(scene, rng), scene


def pairs(seed: int | str, image_size: int = 64, start: int = 0, count: int | None = None,
          **fixed_attributes) -> Iterator[tuple[Image.Image, str]]:
    """Yield (image, caption) pairs of the world drawn from `seed`, from `start` on.

    Endless unless `count` is given; `fixed_attributes` restrict scenes as in `sample_scene`.
    """
    index = start
    while count is None or index < start + count:
        image, caption, _ = example(seed, index, image_size, **fixed_attributes)
        yield image, caption
        index += 1


# --- captions -------------------------------------------------------------------------------

_STYLE_PHRASES = {
    "photo": ("a photo of {}", "a photo of {}", "a picture of {}", "a photograph of {}",
              "a close-up photo of {}", "a bright photo of {}"),
    "sketch": ("a sketch of {}", "a sketch of {}", "a drawing of {}", "a pencil sketch of {}",
               "a line drawing of {}", "{}, sketched"),
    "painting": ("a painting of {}", "a painting of {}", "art of {}", "an oil painting of {}",
                 "{}, painted"),
    "cartoon": ("a cartoon of {}", "a cartoon of {}", "a cartoon drawing of {}", "clip art of {}",
                "{} in a video game"),
    "pixel": ("a pixelated photo of {}", "pixel art of {}", "a low resolution photo of {}",
              "a pixelated image of {}"),
}
_BACKGROUND_PHRASES = {
    "plain": ("on a plain background", "on a blank background"),
    "striped": ("on a striped background", "on stripes", "with stripes behind it"),
    "dotted": ("on a dotted background", "on dots", "with dots behind it"),
    "checkered": ("on a checkered background", "on a checkerboard"),
    "gradient": ("on a gradient background", "on a smooth gradient"),
}
_CLUTTER_PHRASES = ("among clutter", "with other things around it", "in a cluttered scene", "among junk")
_POSITION_PHRASES = {
    "middle": "in the middle", "left": "on the left", "right": "on the right",
    "top": "at the top", "bottom": "at the bottom",
}


# --- backgrounds ----------------------------------------------------------------------------

def _jitter(rgb: tuple[int, int, int], rng: random.Random, amount: int) -> tuple[int, int, int]:
    return tuple(max(0, min(255, c + rng.randint(-amount, amount))) for c in rgb)


def _shade(rgb: tuple[int, ...], factor: float) -> tuple[int, int, int]:
    """Scale a colour towards black (factor < 1) or towards white (factor > 1)."""
    if factor <= 1:
        return tuple(int(c * factor) for c in rgb)
    return tuple(int(c + (255 - c) * (factor - 1)) for c in rgb)


def _two_tones(scene: Scene, rng: random.Random) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Two background tones; sketches get paper, other styles muted tones of equal darkness."""
    if scene.style == "sketch":
        paper = rng.choice(_PAPER_TONES)
        return paper, _shade(paper, rng.uniform(0.78, 0.9))
    first, second = rng.sample(_BACKGROUND_TONES, 2)
    return _jitter(first, rng, 10), _jitter(second, rng, 10)


def _background(scene: Scene, w: int, rng: random.Random) -> Image.Image:
    first, second = _two_tones(scene, rng)
    image = Image.new("RGB", (w, w), first)
    draw = ImageDraw.Draw(image)
    kind = scene.background
    if kind == "striped":
        period = rng.randint(w // 12, w // 5)
        horizontal = rng.random() < 0.5
        for start in range(-period, w, period):
            box = (0, start, w, start + period // 2) if horizontal else (start, 0, start + period // 2, w)
            draw.rectangle(box, fill=second)
    elif kind == "dotted":
        step = rng.randint(w // 10, w // 5)
        radius = max(1, step // rng.randint(4, 6))
        offset = rng.randint(0, step)
        for y in range(offset - step, w + step, step):
            for x in range(offset - step, w + step, step):
                draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=second)
    elif kind == "checkered":
        cell = rng.randint(w // 10, w // 4)
        for row in range(w // cell + 1):
            for col in range(row % 2, w // cell + 1, 2):
                draw.rectangle((col * cell, row * cell, (col + 1) * cell - 1, (row + 1) * cell - 1), fill=second)
    elif kind == "gradient":
        # Rotate a ramp twice the canvas size and keep its centre, so no corner shows.
        ramp = Image.linear_gradient("L").resize((2 * w, 2 * w), Image.Resampling.BILINEAR)
        ramp = ramp.rotate(rng.uniform(0, 360), resample=Image.Resampling.BILINEAR).crop((w // 2, w // 2, 3 * w // 2, 3 * w // 2))
        image = Image.composite(Image.new("RGB", (w, w), second), image, ramp)
    return image


# --- shapes ---------------------------------------------------------------------------------

def _placement(scene: Scene, w: int, rng: random.Random) -> tuple[float, float, float]:
    """Centre x, centre y and radius, in pixels of the supersampled canvas."""
    radius = w * (rng.uniform(0.15, 0.21) if scene.size == "small" else rng.uniform(0.31, 0.38))
    # Large objects move less, so they stay inside the frame.
    shift = w * (0.26 if scene.size == "small" else 0.13) * rng.uniform(0.8, 1.1)
    dx, dy = {"middle": (0, 0), "left": (-1, 0), "right": (1, 0), "top": (0, -1), "bottom": (0, 1)}[scene.position]
    cx = w / 2 + dx * shift + rng.uniform(-0.03, 0.03) * w
    cy = w / 2 + dy * shift + rng.uniform(-0.03, 0.03) * w
    return cx, cy, radius


def _polygon(points: list[tuple[float, float]], cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    """Unit-radius points, rotated by `angle` radians, scaled by r and moved to (cx, cy)."""
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + r * (x * c - y * s), cy + r * (x * s + y * c)) for x, y in points]


def _regular(n: int, phase: float = -math.pi / 2) -> list[tuple[float, float]]:
    return [(math.cos(phase + 2 * math.pi * k / n), math.sin(phase + 2 * math.pi * k / n)) for k in range(n)]


def _star() -> list[tuple[float, float]]:
    return [(math.cos(-math.pi / 2 + math.pi * k / 5) * (1 if k % 2 == 0 else 0.42),
             math.sin(-math.pi / 2 + math.pi * k / 5) * (1 if k % 2 == 0 else 0.42)) for k in range(10)]


def _heart() -> list[tuple[float, float]]:
    points = []
    for k in range(40):
        t = 2 * math.pi * k / 40
        x = 16 * math.sin(t) ** 3
        y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
        points.append((x / 17, -y / 17 + 0.1))
    return points


_CROSS = [(-0.3, -0.9), (0.3, -0.9), (0.3, -0.3), (0.9, -0.3), (0.9, 0.3), (0.3, 0.3),
          (0.3, 0.9), (-0.3, 0.9), (-0.3, 0.3), (-0.9, 0.3), (-0.9, -0.3), (-0.3, -0.3)]
_POLYGONS = {
    "square": [(-0.8, -0.8), (0.8, -0.8), (0.8, 0.8), (-0.8, 0.8)],
    "triangle": _regular(3),
    "star": _star(),
    "heart": _heart(),
    "cross": _CROSS,
    "diamond": [(0, -1), (0.62, 0), (0, 1), (-0.62, 0)],
    "hexagon": _regular(6, 0),
    "pentagon": _regular(5),
    "octagon": _regular(8, math.pi / 8),
}


def _shape_mask(scene: Scene, w: int, rng: random.Random) -> Image.Image:
    """An "L" mask of the object: 255 inside, 0 outside."""
    cx, cy, r = _placement(scene, w, rng)
    return _draw_shape(scene.shape, w, cx, cy, r, rng)


def _draw_shape(shape: str, w: int, cx: float, cy: float, r: float, rng: random.Random) -> Image.Image:
    """A `w`×`w` "L" mask of `shape` of radius r centred at (cx, cy), slightly turned."""
    angle = math.radians(rng.uniform(-12, 12))  # small, so a square never turns into a diamond
    mask = Image.new("L", (w, w), 0)
    draw = ImageDraw.Draw(mask)
    if shape in _POLYGONS:
        draw.polygon(_polygon(_POLYGONS[shape], cx, cy, r, angle), fill=255)
    elif shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
    elif shape == "ring":
        inner = r * rng.uniform(0.5, 0.65)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
        draw.ellipse((cx - inner, cy - inner, cx + inner, cy + inner), fill=0)
    elif shape == "crescent":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
        bite = rng.uniform(-0.6, 0.6) + (0 if rng.random() < 0.5 else math.pi)
        ox, oy = cx + 0.5 * r * math.cos(bite), cy + 0.5 * r * math.sin(bite)
        draw.ellipse((ox - 0.85 * r, oy - 0.85 * r, ox + 0.85 * r, oy + 0.85 * r), fill=0)
    return mask


def _distractor_mask(scene: Scene, mask: Image.Image, rng: random.Random, scale: float) -> Image.Image:
    """Another of the shapes, `scale` times the object's radius, where it overlaps the object least
    (of a dozen tries)."""
    shape = rng.choice([s for s in SHAPES if s != scene.shape])
    w = mask.width
    left, top, right, bottom = mask.getbbox() or (0, 0, w, w)
    r = max(right - left, bottom - top) / 2 * scale
    best = None
    for _ in range(12):
        cx, cy = rng.uniform(r * 0.7, w - r * 0.7), rng.uniform(r * 0.7, w - r * 0.7)
        other = _draw_shape(shape, w, cx, cy, r, rng)
        overlap = ImageChops.multiply(other, mask).point(lambda v: 255 if v else 0).histogram()[255]
        if best is None or overlap < best[0]:
            best = (overlap, other)
        if overlap == 0:
            break
    return best[1]


def _clutter(scene: Scene, background: Image.Image, mask: Image.Image,
             rng: random.Random) -> tuple[Image.Image, Image.Image]:
    """Draw 2–4 things that are none of the shapes around the object, and sometimes one in front.

    Clutter is drawn into the background (so the style's texture, blur and grain cover it
    too); a thing in front of the object is cut out of the object's mask. Clutter comes in
    any colour but the object's, so colour words still name the object.
    """
    things = [_blob_mask(background.width, rng, avoid=mask) for _ in range(rng.randint(2, 4))]
    if rng.random() < 0.6:
        things.append(_blob_mask(background.width, rng, cover=mask))
        mask = ImageChops.subtract(mask, things[-1])
    for thing in things:
        background = _draw_thing(scene, background, thing, rng)
    return background, mask


def _draw_thing(scene: Scene, background: Image.Image, thing: Image.Image, rng: random.Random) -> Image.Image:
    """Draw `thing` (a mask) flat into the background, in any colour but the object's."""
    colour = _jitter(COLOURS[rng.choice([c for c in COLOURS if c != scene.colour])], rng, 18)
    if scene.style == "sketch":
        return Image.composite(Image.new("RGB", background.size, _shade(colour, 0.8)), background, _outline(thing, 1))
    background = Image.composite(Image.new("RGB", background.size, colour), background, thing)
    if scene.style == "cartoon":
        background = Image.composite(Image.new("RGB", background.size, (15, 15, 15)), background, _outline(thing, 2))
    return background


def _blob_mask(w: int, rng: random.Random, avoid: Image.Image | None = None,
               cover: Image.Image | None = None) -> Image.Image:
    """A lumpy, irregular thing that is none of the shapes, or a scribbled stroke.

    With `avoid`, it is placed where it overlaps the object little (a few tries); with
    `cover`, it is placed over an edge of the object, hiding part of it.
    """
    r = w * rng.uniform(0.07, 0.16)
    if cover is not None:
        left, top, right, bottom = cover.getbbox() or (0, 0, w, w)
        edge = rng.uniform(0, 2 * math.pi)
        ox, oy = (right - left) / 2, (bottom - top) / 2
        cx = (left + right) / 2 + math.cos(edge) * ox * rng.uniform(0.8, 1.1)
        cy = (top + bottom) / 2 + math.sin(edge) * oy * rng.uniform(0.8, 1.1)
    for _ in range(6):
        if cover is None:
            cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * w
        mask = Image.new("L", (w, w), 0)
        draw = ImageDraw.Draw(mask)
        if rng.random() < 0.7:
            n = rng.randint(5, 9)
            points = [(math.cos(2 * math.pi * (k + rng.uniform(-0.3, 0.3)) / n) * rng.uniform(0.45, 1.0),
                       math.sin(2 * math.pi * (k + rng.uniform(-0.3, 0.3)) / n) * rng.uniform(0.45, 1.0))
                      for k in range(n)]
            draw.polygon(_polygon(points, cx, cy, r, rng.uniform(0, 2 * math.pi)), fill=255)
        else:
            points = [(cx, cy)]
            for _ in range(rng.randint(2, 4)):
                x, y = points[-1]
                points.append((x + rng.uniform(-r, r) * 1.5, y + rng.uniform(-r, r) * 1.5))
            draw.line(points, fill=255, width=max(2, int(r / 3)), joint="curve")
        if avoid is None or not ImageChops.multiply(mask, avoid).getbbox():
            break
    return mask


# --- styles ---------------------------------------------------------------------------------

def _noise(w: int, rng: random.Random, blur: float, amplitude: float) -> Image.Image:
    """Blurred grey noise around 128 (Pillow's own noise is not seedable, so use the rng)."""
    small = max(4, w // 4)
    noise = Image.frombytes("L", (small, small), rng.randbytes(small * small))
    noise = noise.resize((w, w), Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(blur))
    return noise.point(lambda v: int(128 + (v - 128) * amplitude))


def _outline(mask: Image.Image, width: int) -> Image.Image:
    """The band of `width` pixels just outside the mask's edge."""
    return ImageChops.subtract(mask.filter(ImageFilter.MaxFilter(2 * width + 1)), mask)


def _photo(background: Image.Image, mask: Image.Image, colour, rng: random.Random) -> Image.Image:
    """Shaded fill lit from one side, a soft drop shadow, slight blur and sensor noise."""
    w = background.width
    shadow_mask = ImageChops.offset(mask, rng.randint(2, 5), rng.randint(2, 5)).filter(ImageFilter.GaussianBlur(4))
    image = Image.composite(Image.eval(background, lambda v: int(v * 0.55)), background,
                            shadow_mask.point(lambda v: int(v * 0.7)))
    # A radial ramp centred up and to the left of the object: it looks lit, like a ball.
    left, top, right, bottom = mask.getbbox() or (0, 0, w, w)
    r = max(right - left, bottom - top) / 2
    lx = (left + right) / 2 - r * rng.uniform(0.2, 0.5)
    ly = (top + bottom) / 2 - r * rng.uniform(0.2, 0.5)
    spot = Image.radial_gradient("L").resize((int(4 * r) + 2,) * 2, Image.Resampling.BILINEAR)
    light = Image.new("L", (w, w), 255)
    light.paste(spot, (int(lx - 2 * r), int(ly - 2 * r)))
    fill = Image.composite(Image.new("RGB", (w, w), _shade(colour, 0.55)),
                           Image.new("RGB", (w, w), _shade(colour, 1.35)), light)
    image = Image.composite(fill, image, mask)
    image = image.filter(ImageFilter.GaussianBlur(0.6))
    grain = _noise(w, rng, 0.5, 0.06).convert("RGB")
    return ImageChops.add(image, grain, scale=1.0, offset=-128)


def _sketch(background: Image.Image, mask: Image.Image, colour, rng: random.Random) -> Image.Image:
    """Pencil lines: a shaky double outline, sometimes hatching inside, on paper."""
    w = background.width
    ink = Image.new("RGB", (w, w), _shade(colour, 0.8))
    lines = _outline(mask, 1)
    second = ImageChops.offset(_outline(mask, 1), rng.randint(-2, 2), rng.randint(-2, 2))
    lines = ImageChops.lighter(lines, second.point(lambda v: int(v * 0.7)))
    if rng.random() < 0.5:
        hatch = Image.new("L", (w, w), 0)
        draw = ImageDraw.Draw(hatch)
        step = rng.randint(5, 8)
        for k in range(-w, w, step):
            draw.line((k, w, k + w, 0), fill=150, width=1)
        lines = ImageChops.lighter(lines, ImageChops.multiply(hatch, mask))
    return Image.composite(ink, background, lines)


def _painting(background: Image.Image, mask: Image.Image, colour, rng: random.Random) -> Image.Image:
    """Brushy texture: blotchy colour, ragged edges, strokes, smeared by a mode filter."""
    w = background.width
    texture = _noise(w, rng, 3, 0.5).convert("RGB")
    canvas = ImageChops.add(background, texture, scale=1.0, offset=-128)
    ragged = ImageChops.add(mask.filter(ImageFilter.GaussianBlur(2)), _noise(w, rng, 1.5, 0.5), offset=-128)
    ragged = ragged.point(lambda v: 255 if v > 120 else 0)
    fill = ImageChops.add(Image.new("RGB", (w, w), colour), _noise(w, rng, 2, 0.5).convert("RGB"),
                          offset=-128)
    image = Image.composite(fill, canvas, ragged)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(6, 14)):
        x, y = rng.uniform(0, w), rng.uniform(0, w)
        dx, dy = rng.uniform(-w / 6, w / 6), rng.uniform(-w / 12, w / 12)
        tone = _shade(colour, rng.uniform(0.7, 1.3)) if mask.getpixel((int(x) % w, int(y) % w)) else \
            _jitter(background.getpixel((int(x) % w, int(y) % w)), rng, 25)
        draw.line((x, y, x + dx, y + dy), fill=tone, width=rng.randint(2, 4))
    return image.filter(ImageFilter.ModeFilter(5))


def _cartoon(background: Image.Image, mask: Image.Image, colour, rng: random.Random) -> Image.Image:
    """Flat, saturated fill with a thick black outline."""
    w = background.width
    image = Image.composite(Image.new("RGB", (w, w), colour), background, mask)
    edge = _outline(mask, rng.randint(2, 4))
    return Image.composite(Image.new("RGB", (w, w), (15, 15, 15)), image, edge)


def _pixel(background: Image.Image, mask: Image.Image, colour, rng: random.Random) -> Image.Image:
    """Flat drawing reduced to a coarse grid of big square pixels."""
    w = background.width
    image = Image.composite(Image.new("RGB", (w, w), colour), background, mask)
    cells = rng.choice((10, 12, 14, 16))
    return image.resize((cells, cells), Image.Resampling.BOX).resize((w, w), Image.Resampling.NEAREST)


_STYLE_PAINTERS = {"photo": _photo, "sketch": _sketch, "painting": _painting, "cartoon": _cartoon, "pixel": _pixel}

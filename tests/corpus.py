"""A corpus of awkward and broken inputs, written into a folder for the robustness tests.

`build_corpus(root)` writes:

    train/cat/    ordinary images and every oddity: broken files (skipped with a reason),
                  unusual but readable images (used, converted to RGB), hidden and system files
                  (ignored), odd file names, a nested folder, a symlink loop, an unreadable file
    train/dog/    ordinary images
    train/empty/  a class folder with no images
    val/          cat and dog, one of them a copy of a training image
    ood/          cat, dog and an unknown class "zebra"
    single/       one class only
    nameless/     class folders "___" (no name left after cleaning) and "dog"
    templates/    caption template files: good, without a placeholder, with a stray brace

and returns a `Corpus` that says what must happen to each file. Everything is tiny (a few
kilobytes in all) so that every test that uses it runs in a moment.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

RED, BLUE, GREEN, WHITE = (230, 20, 20), (20, 20, 230), (20, 200, 40), (255, 255, 255)
EXIF_ORIENTATION = 0x0112
ROTATE_90_CW = 6  # EXIF: "the picture must be turned 90° clockwise to be upright"


@dataclass
class Corpus:
    root: Path
    used: dict[str, str] = field(default_factory=dict)      # path under train/ → class it must land in
    skipped: dict[str, str] = field(default_factory=dict)   # path under train/ → words of the reason
    ignored: list[str] = field(default_factory=list)        # hidden/system files: never mentioned
    unreadable: str = "cat/locked.png"                      # chmod 000 (root reads it anyway)

    @property
    def train(self) -> Path:
        return self.root / "train"

    def __getattr__(self, name: str) -> Path:  # corpus.val, corpus.ood, corpus.single, …
        if name in ("val", "ood", "single", "nameless", "templates"):
            return self.root / name
        raise AttributeError(name)


def build_corpus(root: Path) -> Corpus:
    corpus = Corpus(root)
    cat, dog = root / "train" / "cat", root / "train" / "dog"
    for folder in (cat, dog, root / "train" / "empty"):
        folder.mkdir(parents=True)
    for i in range(6):
        _solid(RED, noise=i + 1).save(cat / f"cat_{i}.png")
        _solid(BLUE, noise=i + 1).save(dog / f"dog_{i}.png")
        corpus.used[f"cat/cat_{i}.png"], corpus.used[f"dog/dog_{i}.png"] = "cat", "dog"
    _write_readable_oddities(cat, corpus)
    _write_linked_folder(root / "elsewhere", dog, corpus)
    _write_broken_files(cat, corpus)
    _write_ignored_files(cat, corpus)
    _write_eval_folders(root, cat)
    _write_templates(root / "templates")
    return corpus


def _write_readable_oddities(cat: Path, corpus: Corpus) -> None:
    """Images that are unusual but fine: each must be used, upright and in RGB."""
    def used(name: str) -> Path:
        corpus.used[f"cat/{name}"] = "cat"
        return cat / name

    sixteen = Image.new("I;16", (32, 24))
    sixteen.putdata([x * 1057 for y in range(24) for x in range(32)])  # 0 … 32767: a dark half-range ramp
    sixteen.save(used("16-bit.png"))
    palette = Image.new("P", (24, 24), 1)
    palette.putpalette([*WHITE, *RED] + [0] * 762)
    palette.putpixel((0, 0), 0)
    palette.save(used("palette with transparency.png"), transparency=0)
    Image.new("CMYK", (24, 24), (0, 255, 255, 0)).save(used("cmyk.jpg"), quality=95)
    Image.new("L", (24, 24), 90).save(used("grey.jpg"))
    exif_rotated().save(used("exif-rotated.jpg"), exif=_orientation_exif(ROTATE_90_CW), quality=95)
    _solid(RED).save(used("png-named.jpg"), format="PNG")          # the extension lies
    _solid(RED).save(used("jpeg-named.png"), format="JPEG")
    frames = [_solid(RED), _solid(BLUE)]
    frames[0].save(used("animated.gif"), save_all=True, append_images=frames[1:], duration=100, loop=0)
    _solid(RED).save(used("name with spaces.png"))
    _solid(RED).save(used("ünïcødé-名前.png"))
    _solid(RED).save(used("emoji 🐱🐈.png"))
    (cat / "nested" / "deeper").mkdir(parents=True)
    _solid(RED).save(used("nested/deeper/inner.png"))
    if os.name == "posix":  # a name that is not valid UTF-8 (an old Latin-1 archive)
        name = os.fsdecode(b"caf\xe9.png")
        _solid(RED).save(used(name))


def _write_linked_folder(target: Path, dog: Path, corpus: Corpus) -> None:
    """train/dog/linked → a folder outside train/: linked folders are followed."""
    target.mkdir()
    _solid(BLUE, noise=3).save(target / "linked dog.png")
    if os.name == "posix":
        os.symlink(target, dog / "linked")
        corpus.used["dog/linked/linked dog.png"] = "dog"


def _write_broken_files(cat: Path, corpus: Corpus) -> None:
    """Files that cannot be used: each must be skipped, with these words in the reason."""
    def skipped(name: str, words: str) -> Path:
        corpus.skipped[f"cat/{name}"] = words
        return cat / name

    skipped("zero-bytes.jpg", "empty file (0 bytes)").write_bytes(b"")
    jpeg, png = _encoded(_noise(64), "JPEG"), _encoded(_noise(64), "PNG")
    skipped("truncated.jpg", "truncated").write_bytes(jpeg[: len(jpeg) // 2])
    skipped("truncated.png", "truncated").write_bytes(png[: len(png) // 2])
    skipped("text.jpg", "not an image").write_text("this is a text file, not a picture\n")
    skipped("bomb.png", "too large").write_bytes(png_header_only(30000, 30000))   # Pillow refuses it
    skipped("big.png", "too large").write_bytes(png_header_only(10000, 10000))    # Pillow only warns
    _solid(RED, size=1).save(skipped("one-pixel.png", "too small"))
    skipped("notes.txt", "not an image file (.txt)").write_text("field notes")
    if os.name == "posix":  # a name that is not valid UTF-8, on a file that is not an image
        skipped(os.fsdecode(b"broken-\xe9.jpg"), "not an image").write_text("not a picture either")
    if os.name == "posix":
        os.symlink("self-loop.jpg", skipped("self-loop.jpg", "broken or looping symbolic link"))
        os.symlink("self-loop", skipped("self-loop", "broken or looping symbolic link"))  # no extension to go by
        os.symlink("..", skipped("loop", "a loop"))  # a link back up to train/: must not hang the scan
    _solid(RED).save(skipped("locked.png", "cannot read file (permission denied)"))
    os.chmod(cat / "locked.png", 0)


def _write_ignored_files(cat: Path, corpus: Corpus) -> None:
    """Hidden and system files: ignored without a word (not images anyone meant to give)."""
    for name, data in {".DS_Store": b"\0\0\0\1Bud1", "._cat_0.png": b"\0\5\26\7AppleDouble",
                       ".hidden.png": _encoded(_solid(RED), "PNG"), "Thumbs.db": b"\xd0\xcf\x11\xe0"}.items():
        (cat / name).write_bytes(data)
        corpus.ignored.append(f"cat/{name}")


def _write_eval_folders(root: Path, train_cat: Path) -> None:
    for name, classes in {"val": ("cat", "dog"), "ood": ("cat", "dog", "zebra"), "single": ("cat",),
                          "nameless": ("___", "dog")}.items():
        for cls in classes:
            (root / name / cls).mkdir(parents=True)
            for i in range(3):
                _solid(BLUE if cls == "dog" else RED, noise=10 + i).save(root / name / cls / f"{i}.png")
    (root / "val" / "cat" / "copy of cat_0.png").write_bytes((train_cat / "cat_0.png").read_bytes())


def _write_templates(folder: Path) -> None:
    folder.mkdir()
    (folder / "good.txt").write_text("a photo of a {}.\n# a comment\na {} in the wild.\n")
    (folder / "no-placeholder.txt").write_text("a photo of a {}.\na photo of something.\n")
    (folder / "stray-brace.txt").write_text("a photo of a {}}.\n")


def exif_rotated() -> Image.Image:
    """40×20 as stored: red left half, blue right half. Upright (turned 90° clockwise) it is
    20×40 with red on top and blue below."""
    image = Image.new("RGB", (40, 20), BLUE)
    image.paste(RED, (0, 0, 20, 20))
    return image


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG header that claims `width`×`height` pixels, with almost no pixel data:
    a cheap stand-in for a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _orientation_exif(value: int) -> Image.Exif:
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = value
    return exif


def _solid(colour, size: int = 24, noise: int = 0) -> Image.Image:
    image = Image.new("RGB", (size, size), colour)
    if noise and size > 4:
        image.putpixel((noise % size, 1), (noise * 20 % 256, 128, 64))
    return image


def _noise(size: int) -> Image.Image:
    return Image.frombytes("RGB", (size, size), os.urandom(size * size * 3))


def _encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()

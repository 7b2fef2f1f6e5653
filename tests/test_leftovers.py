"""Files half written: a sort killed mid-copy leaves no partial image, and the hidden temporary
copies an older version left behind are removed by the next sort or resume — never a user's file."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.training.runs import RunDir


KILLED_SORT = """
import os, shutil, signal, sys
from pathlib import Path
from core.labelling import files
from core.labelling.classify import Prediction, sort_into

sources = sorted(Path(sys.argv[1]).iterdir())
copied = []
real_copy = shutil.copy2

def copy_then_die(source, target):
    copied.append(source)
    if len(copied) == 3:  # kill -9 with half of the third image written
        Path(target).write_bytes(Path(source).read_bytes()[:10])
        os.kill(os.getpid(), signal.SIGKILL)
    return real_copy(source, target)

files.shutil.copy2 = copy_then_die
sort_into([Prediction(p, [("circle", 0.9)], "") for p in sources], sys.argv[2])
"""


def test_a_sort_killed_midway_leaves_no_partial_image_and_a_rerun_completes_it(tmp_path):
    """kill -9 of `flyp predict --sort-into` mid-copy left a 0-byte image under its final name;
    now a copy appears under its name only whole, and the same sort again adds no duplicates."""
    from PIL import Image

    from core.labelling.classify import Prediction, sort_into

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(5):
        Image.new("RGB", (16, 16), (50 * i, 20, 20)).save(photos / f"p{i}.png")
    sorted_dir = tmp_path / "sorted"
    process = subprocess.run([sys.executable, "-c", KILLED_SORT, str(photos), str(sorted_dir)],
                             cwd=Path(__file__).parent.parent, capture_output=True, timeout=120)
    assert process.returncode == -signal.SIGKILL
    visible = [p for p in (sorted_dir / "circle").iterdir() if not p.name.startswith(".")]
    assert sorted(p.name for p in visible) == ["p0.png", "p1.png"]
    assert all(p.read_bytes() == (photos / p.name).read_bytes() for p in visible)
    sort_into([Prediction(p, [("circle", 0.9)], "") for p in sorted(photos.iterdir())], sorted_dir)
    visible = sorted(p.name for p in (sorted_dir / "circle").iterdir() if not p.name.startswith("."))
    assert visible == [f"p{i}.png" for i in range(5)]  # completed, no "p0 (2).png"
    assert not list((sorted_dir / "circle").glob(".*.tmp"))  # the killed copy's hidden leftover is gone


def test_a_partial_copy_left_by_an_older_version_is_removed_and_a_users_like_named_file_kept(tmp_path, monkeypatch):
    """Older versions named a sort's hidden copy `.NAME.XXXXXXXX.tmp`, without a process id: the
    next sort of that image removes such a leftover (a killed copy: its bytes begin the image's,
    untouched for a while), never a user's file of a like name, nor a copy being written now."""
    from PIL import Image

    from core.labelling.classify import Prediction, sort_into

    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (16, 16), (200, 20, 20)).save(photos / "p0.png")
    image = (photos / "p0.png").read_bytes()
    circle = tmp_path / "sorted" / "circle"
    circle.mkdir(parents=True)
    now = pin_clock(monkeypatch)
    old = now - 3600
    left = {".p0.png.k2x9_q7a.tmp": image[:10], ".p0.png.a1b2c3d4.tmp": b""}  # killed mid-copy, and before a byte
    kept = {".p0.png.notes.tmp": image[:10], ".p0.png.ABCDEFGH.tmp": image[:10],  # not mkstemp's names
            ".p0.png.zz9yy8xx.tmp": b"my own words",  # not the image's bytes
            "p0.png.k2x9_q7b.tmp": image[:10], ".p0.png.k2x9_q7b.txt": image[:10]}  # not hidden; not .tmp
    for name, data in {**left, **kept}.items():
        (circle / name).write_bytes(data)
        os.utime(circle / name, (old, old))
    (circle / ".p0.png.fresh123.tmp").write_bytes(image[:10])  # an older version's copier at work now
    os.utime(circle / ".p0.png.fresh123.tmp", (now, now))
    kept[".p0.png.fresh123.tmp"] = image[:10]
    sort_into([Prediction(photos / "p0.png", [("circle", 0.9)], "")], tmp_path / "sorted")
    assert (circle / "p0.png").read_bytes() == image
    assert sorted(p.name for p in circle.iterdir()) == sorted([*kept, "p0.png"])
    assert all((circle / name).read_bytes() == data for name, data in kept.items())


def test_a_resumed_run_removes_an_older_versions_temporary_copies_of_its_files_and_keeps_the_users(flyp_run, tmp_path, monkeypatch):
    """Older versions named a write's temporary file `.NAME.XXXXXXXX.tmp` (no `.flyp-`): resuming a
    run removes those of the run's own files, never a user's like-named file, nor one written now."""
    import shutil

    run = RunDir(shutil.copytree(flyp_run, tmp_path / "run"))
    now = pin_clock(monkeypatch)
    old = now - 3600
    gone = [run.path / ".state.safetensors.k2x9_q7a.tmp", run.path / "checkpoints" / ".best.safetensors.a1b2c3d4.tmp",
            run.path / ".run.json.zz9yy8xx.tmp"]
    kept = [run.path / ".notes.txt.k2x9_q7a.tmp", run.path / ".run.json.notes.tmp", run.path / ".run.json.ABCDEFGH.tmp",
            run.path / "run.json.k2x9_q7a.tmp", run.path / ".state.safetensors.fresh123.tmp"]
    for path in gone + kept:
        path.write_bytes(b"half")
        written = now if path.name == ".state.safetensors.fresh123.tmp" else old  # that one is being written now
        os.utime(path, (written, written))
    assert run.remove_leftovers() == len(gone)
    assert not any(p.exists() for p in gone) and all(p.read_bytes() == b"half" for p in kept)


def pin_clock(monkeypatch) -> float:
    """"Now", for the age of leftovers, pinned: however slow the machine, a file written "now" stays young."""
    from core import atomic

    now = time.time()
    monkeypatch.setattr(atomic, "clock", lambda: now)
    return now

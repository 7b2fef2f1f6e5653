"""The app's background tasks run without Qt, and their caches hold up under several threads."""

import io
import os
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import TINY, write_class_folders
from flyp_app import data_tasks
from flyp_app.caches import Caches


def test_the_folder_scan_task_runs_without_a_window(tmp_path):
    train = write_class_folders(tmp_path / "train", 4, seed=1)
    data, thumbs = data_tasks.scan_project(str(train), None, [], 0.25, 0)
    assert sorted(thumbs) == sorted(data.classes) and all(png.startswith(b"\x89PNG") for png in thumbs.values())


def test_threads_asking_for_the_model_at_once_share_one_load(monkeypatch):
    import core.model.loading as loading

    loads = []
    real = loading.load_model
    monkeypatch.setattr(loading, "load_model", lambda *a, **k: loads.append(a) or real(*a, **k))
    caches = Caches()
    with ThreadPoolExecutor(4) as pool:
        models = list(pool.map(lambda _: caches.model(TINY, "none"), range(8)))
    assert len(loads) == 1 and all(m is models[0] for m in models)


def test_thumbnails_from_several_threads_are_cached_once_per_file(tmp_path):
    train = write_class_folders(tmp_path / "train", 3, seed=1)
    paths = sorted(str(p) for p in train.rglob("*.png"))
    caches = Caches()
    with ThreadPoolExecutor(4) as pool:
        first = list(pool.map(caches.thumbnail_png, paths * 4))
    assert all(first[i] == first[i % len(paths)] for i in range(len(first)))


def test_a_thumbnail_follows_its_file_and_the_size_asked_for(tmp_path):
    from PIL import Image

    file = tmp_path / "photo.png"
    Image.new("RGB", (40, 40), (200, 0, 0)).save(file)
    caches = Caches()
    red = caches.thumbnail_png(file, size=32)
    assert Image.open(io.BytesIO(caches.thumbnail_png(file, size=16))).size == (16, 16)
    Image.new("RGB", (40, 40), (0, 0, 200)).save(file)  # the image replaced on disk
    os.utime(file, ns=(time.time_ns() + 10**9,) * 2)  # a later time, whatever the file system's resolution
    blue = caches.thumbnail_png(file, size=32)
    assert blue != red and Image.open(io.BytesIO(blue)).getpixel((5, 5)) == (0, 0, 200)

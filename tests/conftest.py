"""Shared fixtures: generated labelled image folders and a tiny CLIP, all on the CPU."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a missing hub model must fail at once, not retry
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import random
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 70, 220)}
TINY = "flyp-tiny"


def make_image(colour: tuple[int, int, int], rng: random.Random, size: int = 48) -> Image.Image:
    """A noisy background with a blob of `colour`: learnable, but not trivially constant."""
    grey = rng.randint(60, 200)
    image = Image.new("RGB", (size + rng.randint(0, 16), size), (grey, grey, grey))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y = rng.randint(0, size), rng.randint(0, size)
        draw.point((x, y), fill=tuple(rng.randint(0, 255) for _ in range(3)))
    x0, y0 = rng.randint(0, size // 3), rng.randint(0, size // 3)
    jitter = tuple(max(0, min(255, c + rng.randint(-25, 25))) for c in colour)
    draw.ellipse((x0, y0, x0 + size // 2 + rng.randint(0, 8), y0 + size // 2 + rng.randint(0, 8)), fill=jitter)
    return image


def write_class_folders(root: Path, per_class: int, seed: int, classes=tuple(COLOURS), fmt: str = "png") -> Path:
    rng = random.Random(seed)
    for name in classes:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            make_image(COLOURS[name], rng).save(folder / f"{name}_{i:03d}.{fmt}")
    return root


@pytest.fixture(scope="session")
def colour_data(tmp_path_factory) -> dict[str, Path]:
    """train/ val/ ood/ folders of three colour classes (ood: JPEG, other seed)."""
    root = tmp_path_factory.mktemp("colours")
    return {
        "train": write_class_folders(root / "train", 24, seed=1),
        "val": write_class_folders(root / "val", 8, seed=2),
        "ood": write_class_folders(root / "ood", 8, seed=3, fmt="jpg"),
    }


@pytest.fixture(scope="session")
def tiny_model():
    from core.model.loading import ModelSpec, load_model

    return load_model(ModelSpec(TINY, "none"))


def train_until_cancelled(config, run_dir: Path, step: int) -> None:
    """Train `config` into `run_dir` and cancel it after `step` steps (the run is saved, resumable)."""
    import pytest

    from core.errors import Cancelled
    from core.progress import RunControl
    from core.training.loop import train

    control = RunControl()

    def stop_there(event):
        if event["type"] == "step" and event["step"] == step:
            control.cancel()
    with pytest.raises(Cancelled):
        train(config, run_dir, on_event=stop_there, control=control)


def tiny_config(data: dict[str, Path], **overrides):
    from core.training.config import TrainConfig

    settings = dict(train_dir=str(data["train"]), val_dir=str(data["val"]), ood_dirs=[str(data["ood"])],
                    model=TINY, pretrained="none", epochs=4, batch_size=12, lr=2e-3, workers=0,
                    templates=["a photo of a {}.", "a {} thing."])
    return TrainConfig(**(settings | overrides))


@pytest.fixture(scope="session")
def flyp_run(colour_data, tmp_path_factory) -> Path:
    """A finished short FLYP run of the tiny model on the colour folders (shared, read-only)."""
    from core.training.loop import train

    out = tmp_path_factory.mktemp("runs") / "flyp"
    train(tiny_config(colour_data), out)
    return out


@pytest.fixture(autouse=True)
def no_threads_left_behind(request):
    """Fail any test that leaves a worker thread running (app tests use Qt's thread pool)."""
    import threading

    before = set(threading.enumerate())
    yield
    if "qtbot" in request.fixturenames or "window" in request.fixturenames:
        from PySide6.QtCore import QThreadPool

        assert QThreadPool.globalInstance().waitForDone(20000), "a worker was still running after the test"
        QThreadPool.globalInstance().clear()
    lingering = [t for t in set(threading.enumerate()) - before if t.is_alive() and not t.daemon]
    for t in lingering:
        t.join(timeout=10)
    assert not [t for t in lingering if t.is_alive()], f"threads left running: {lingering}"


@pytest.fixture
def forward_passes(monkeypatch) -> list[bool]:
    """For each forward pass of any torch module from here on: whether it ran on the UI thread.
    The model on the UI thread freezes the window however fast the machine is; this is what the
    app's tests check, not the length of a freeze (which depends on the machine)."""
    import threading

    import torch

    passes, original = [], torch.nn.Module.__call__

    def call(module, *args, **kwargs):
        passes.append(threading.current_thread() is threading.main_thread())
        return original(module, *args, **kwargs)

    monkeypatch.setattr(torch.nn.Module, "__call__", call)
    return passes


def off_the_ui_thread(passes: list[bool]) -> bool:
    """The model ran, and never on the UI thread."""
    return bool(passes) and not any(passes)


@pytest.fixture(scope="session", autouse=True)
def isolated_user_dirs(tmp_path_factory):
    """Recent projects, the demo folders and default run folders go to a temporary home."""
    home = tmp_path_factory.mktemp("home")
    os.environ["XDG_CONFIG_HOME"] = str(home / "config")
    os.environ["XDG_DATA_HOME"] = str(home / "data")
    os.environ["XDG_CACHE_HOME"] = str(home / "cache")
    yield home


@pytest.fixture(scope="session")
def flyp_bundle(flyp_run, tmp_path_factory) -> Path:
    """`flyp_run` exported at α = 1 (shared, read-only: copy it before damaging it)."""
    from core.weights.blend import open_run
    from core.export.write import export_bundle

    out = tmp_path_factory.mktemp("bundles") / "flyp"
    export_bundle(open_run(flyp_run), out)
    return out


@pytest.fixture
def project_window(qtbot, tmp_path):
    """The app's window, shown, with a new empty project "Mine" open; any training is stopped at the end."""
    from flyp_app.window import MainWindow

    win = MainWindow(load_engine=False)
    qtbot.addWidget(win)
    win.create_project(tmp_path / "Mine.flyp.json")
    win.show()
    yield win
    win.pages["train"].stop_and_wait()
    win.close()

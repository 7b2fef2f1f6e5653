"""The embedded demo: its data folders, its pretraining, and the shipped weights."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # the demo must never reach for a model hub

import open_clip
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors import safe_open  # noqa: E402

from core.demo import pretrain  # noqa: E402
from core.demo import task as demo  # noqa: E402
from core.errors import Cancelled  # noqa: E402

SHIPPED = Path(__file__).resolve().parents[1] / "resources" / "models" / "demo"


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_demo_data_is_a_folder_of_class_folders_per_split(tmp_path):
    counts = demo.write_demo_data(tmp_path, seed=0, train_per_class=2, val_per_class=1, ood_per_class=1)
    splits = ["train", "val", "ood-sketch", "ood-painting"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(splits)
    n = len(demo.DEMO_CLASSES)
    assert counts == {"train": 2 * n, "val": n, "ood-sketch": n, "ood-painting": n}
    for split in splits:
        classes = sorted(p.name for p in (tmp_path / split).iterdir())
        assert classes == sorted(demo.DEMO_CLASSES)  # folder names are the zero-shot class names
        for classname in classes:
            files = sorted((tmp_path / split / classname).iterdir())
            assert len(files) == counts[split] // len(classes)
            assert all(f.suffix == ".png" for f in files)  # no temporary files left behind
            with Image.open(files[0]) as image:
                assert image.mode == "RGB" and image.size == (demo.IMAGE_SIZE, demo.IMAGE_SIZE)


def test_demo_data_is_reproducible_from_its_seed(tmp_path):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        demo.write_demo_data(tmp_path / name, seed=seed, train_per_class=1, val_per_class=1, ood_per_class=1)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    first, other = _files(tmp_path / "a"), _files(tmp_path / "c")
    assert first.keys() == other.keys() and all(first[k] != other[k] for k in first)


def test_demo_data_reports_progress_and_stops_when_cancelled(tmp_path):
    seen = []
    demo.write_demo_data(tmp_path / "full", train_per_class=1, val_per_class=1, ood_per_class=1,
                         progress=lambda done, total: seen.append((done, total)))
    total = 4 * len(demo.DEMO_CLASSES)  # one image per class in each of the four splits
    assert seen[-1] == (total, total) and len(seen) == total
    with pytest.raises(Cancelled):
        demo.write_demo_data(tmp_path / "cut", train_per_class=5, cancel=lambda: len(seen) >= total + 5,
                             progress=lambda done, total: seen.append(done))
    assert len(list((tmp_path / "cut").rglob("*.png"))) == 5


def test_demo_data_drawn_by_several_processes_is_the_same_bytes(tmp_path):
    """`flyp demo` draws its folders in worker processes before PyTorch loads (a fresh interpreter
    here: this one holds PyTorch, which a forked child must not inherit); the files are the
    same as one process writes, and the progress reaches the total."""
    import subprocess
    import sys

    script = ("import sys; from core.demo.task import write_demo_data; seen = []; "
              "write_demo_data(sys.argv[1], train_per_class=3, val_per_class=2, ood_per_class=1, workers=2, "
              "progress=lambda done, total: seen.append((done, total))); print(seen[-1])")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "parallel")], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert done.returncode == 0, done.stderr
    total = 7 * len(demo.DEMO_CLASSES)
    assert done.stdout.strip() == str((total, total))
    demo.write_demo_data(tmp_path / "serial", train_per_class=3, val_per_class=2, ood_per_class=1, workers=1)
    assert _files(tmp_path / "parallel") == _files(tmp_path / "serial")


def test_shipped_model_is_small_fp16_and_loads_in_plain_open_clip():
    weights = SHIPPED / "open_clip_model.safetensors"
    assert weights.stat().st_size < 12 * 2**20
    with safe_open(str(weights), "pt") as f:
        dtypes = {k: f.get_tensor(k).dtype for k in f.keys()}
    assert {d for k, d in dtypes.items() if not k.endswith("num_batches_tracked")} == {torch.float16}
    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{SHIPPED}")
    tokenizer = open_clip.get_tokenizer(f"local-dir:{SHIPPED}")
    assert next(model.parameters()).dtype == torch.float32  # open_clip widens the fp16 file on load
    assert tokenizer(["a photo of a star."]).shape == (1, 32)
    assert preprocess(Image.new("RGB", (200, 120))).shape == (3, demo.IMAGE_SIZE, demo.IMAGE_SIZE)


@pytest.fixture(scope="module")
def shipped():
    """The shipped demo model as plain open_clip loads it: (model, preprocess, tokenizer)."""
    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{SHIPPED}")
    return model.eval(), preprocess, open_clip.get_tokenizer(f"local-dir:{SHIPPED}")


def test_shipped_model_reproduces_its_recorded_zero_shot_accuracy(shipped):
    record = json.loads((SHIPPED / "zero_shot.json").read_text())
    model, preprocess, tokenizer = shipped
    classes = list(demo.DEMO_CLASSES)
    with torch.no_grad():
        head = open_clip.build_zero_shot_classifier(model, tokenizer, classes, record["templates"],
                                                    num_classes_per_batch=None, device="cpu")
        for split, expected in record["accuracy"].items():
            images = torch.stack([preprocess(demo.split_image(record["seed"], split, c, i))
                                  for c in classes for i in range(record["per_class"])])
            labels = torch.arange(len(classes)).repeat_interleave(record["per_class"])
            predicted = (model.encode_image(images, normalize=True) @ head).argmax(dim=1)
            accuracy = (predicted == labels).float().mean().item()
            assert accuracy == pytest.approx(expected, abs=0.02), split
    # The promise to users: zero-shot is far better than guessing on the demo's own photos.
    assert record["accuracy"]["val"] >= 2 / len(classes)


def test_the_distractor_is_what_zero_shot_gets_wrong_on_the_demo_photos(shipped, monkeypatch):
    # The demo's headroom for finetuning: the same photos without their distractor are far easier.
    model, preprocess, tokenizer = shipped
    beside = demo.zero_shot_accuracy(model, tokenizer, preprocess, "val", seed=1, per_class=10)
    monkeypatch.setattr(demo, "DISTRACTOR", 0.0)
    alone = demo.zero_shot_accuracy(model, tokenizer, preprocess, "val", seed=1, per_class=10)
    assert 0.55 <= beside <= 0.8 and alone >= beside + 0.1


def test_pretraining_is_reproducible_from_its_seed_and_loads(tmp_path):
    kwargs = dict(seed=5, steps=2, batch_size=8, pool_size=16, workers=1, measure_per_class=1)
    first = pretrain.pretrain_demo_model(tmp_path / "a", **kwargs)
    pretrain.pretrain_demo_model(tmp_path / "b", **kwargs)
    def weights(folder):  # the tensors and metadata (the header's key order is not fixed)
        with safe_open(str(folder / "open_clip_model.safetensors"), "pt") as f:
            return f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    (meta_a, a), (meta_b, b) = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert meta_a == meta_b and a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert first["steps"] == 2 and len(first["loss_every_50_steps"]) == 1
    model, _, _ = open_clip.create_model_and_transforms(f"local-dir:{tmp_path / 'a'}")
    assert sum(p.numel() for p in model.parameters()) > 1_000_000


def test_pretraining_cancelled_writes_nothing(tmp_path):
    with pytest.raises(Cancelled):
        pretrain.pretrain_demo_model(tmp_path / "m", steps=50, batch_size=8, pool_size=16, workers=1,
                                 cancel=lambda: True)
    assert not (tmp_path / "m").exists()

"""Several processes (torchrun, gloo on the CPU) train exactly as one process on the global batch."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file

from conftest import TINY, tiny_config
from core.training.accumulate import ce_backward, flyp_backward
from core.training.distributed import Ranks, ShardedBatches
from core.errors import Cancelled, FlypError
from core.data.loader import EpochBatches
from core.model.loading import ModelSpec, load_model
from core.progress import RunControl
from core.training.runs import RunDir
from core.training.loop import train
from gradients import assert_same_gradients, assert_same_weights, encoder, gradients_of, tiny_batch
from gradients import one_thread  # noqa: F401 (an autouse fixture: tiny models run fastest on one thread)

REPO = Path(__file__).resolve().parents[1]
CASES = {  # name: (method, micro-batch size, mask same-class negatives)
    "flyp": ("flyp", None, False),
    "flyp-micro-masked": ("flyp", 4, True),
    "ce-micro": ("ce", 4, False),
}


def one_step_gradients(ranks: Ranks, method: str, micro, mask: bool) -> dict:
    """Gradients (averaged over ranks) and loss of one step on this rank's share of a fixed batch."""
    loaded = load_model(ModelSpec(TINY, "none"))
    model = loaded.model.train()
    images, labels, tokens = tiny_batch(loaded)
    share = len(images) // ranks.size
    mine = slice(ranks.rank * share, (ranks.rank + 1) * share)
    if method == "ce":
        torch.manual_seed(0)
        head = torch.nn.Linear(64, 3)
        logits_of = lambda x: head(torch.nn.functional.normalize(model.encode_image(x.float() / 255), dim=-1))  # noqa: E731
        loss = ranks.mean(ce_backward(logits_of, images[mine], labels[mine], micro_batch=micro))
        params = list(model.visual.parameters()) + list(head.parameters())
    else:
        loss = flyp_backward(encoder(model), model.logit_scale.exp(), images[mine], tokens[mine], labels[mine],
                             micro_batch=micro, ranks=ranks, mask_same_class=mask)
        params = list(model.parameters())
    ranks.average_gradients(params)
    return {"loss": loss.reshape(1), **gradients_of(model)}


def _rank_main(rank: int, size: int, store: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=size)
    try:
        for name, case in CASES.items():
            torch.save(one_step_gradients(Ranks(rank, size, torch.device("cpu")), *case), f"{out}/{name}.{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_processes_give_the_single_process_gradients(tmp_path):
    mp.spawn(_rank_main, args=(2, str(tmp_path / "store"), str(tmp_path)), nprocs=2)
    for name, case in CASES.items():
        expected = one_step_gradients(Ranks(), *case)
        for rank in range(2):
            actual = torch.load(tmp_path / f"{name}.{rank}.pt")
            torch.testing.assert_close(actual.pop("loss"), expected["loss"], msg=name)
            assert_same_gradients(actual, {k: v for k, v in expected.items() if k != "loss"})


def test_ranks_share_each_global_batch_equally_and_in_order():
    single = EpochBatches(72, 12, seed=3)
    shards = [ShardedBatches(72, 12, 3, Ranks(rank, 4)) for rank in range(4)]
    for epoch in (0, 1):
        single.epoch = epoch
        for shard in shards:
            shard.epoch = epoch
        joined = [sum(parts, []) for parts in zip(*shards)]
        assert joined == list(single) and all(len(p) == 3 for p in next(iter(zip(*shards))))
    with pytest.raises(FlypError, match="--batch-size 12 .* 5 processes"):
        ShardedBatches(72, 12, 3, Ranks(0, 5))


def torchrun(*args: str, nproc: int = 2) -> subprocess.CompletedProcess:
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "core.cli", *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def tiny_train_args(data: dict, out: Path, templates: Path) -> list[str]:
    """The command line of `tiny_config(data)` (the `flyp_run` fixture's config)."""
    templates.write_text("a photo of a {}.\na {} thing.\n")
    return ["train", "--model", TINY, "--pretrained", "none", "--train", str(data["train"]), "--val",
            str(data["val"]), "--ood", str(data["ood"]), "--templates", str(templates), "--epochs", "4",
            "--batch-size", "12", "--lr", "2e-3", "--workers", "0", "--device", "cpu", "--out", str(out)]


def test_torchrun_trains_like_one_process_and_writes_the_run_once(colour_data, flyp_run, tmp_path):
    out = tmp_path / "ddp"
    done = torchrun(*tiny_train_args(colour_data, out, tmp_path / "t.txt"), "--micro-batch-size", "4", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["status"] == "finished"  # one report, from rank 0 only
    expected, actual = RunDir(flyp_run), RunDir(out)
    assert actual.read_info()["processes"] == 2 and actual.read_info()["config"]["micro_batch_size"] == 4
    steps = [r for r in actual.read_metrics() if r["type"] == "step"]
    assert [r["step"] for r in steps] == list(range(1, 25))  # each step logged once
    assert len([r for r in actual.read_metrics() if r["type"] == "eval"]) == 5  # zero-shot + 4 epochs
    assert [r["loss"] for r in steps] == pytest.approx(
        [r["loss"] for r in expected.read_metrics() if r["type"] == "step"], abs=1e-5)
    assert_same_weights(load_file(str(actual.last_file)), load_file(str(expected.last_file)))
    assert actual.read_info()["best"]["id_accuracy"] == pytest.approx(expected.read_info()["best"]["id_accuracy"])


def test_torchrun_resumes_a_single_process_run_exactly(colour_data, flyp_run, tmp_path):
    control, out = RunControl(), tmp_path / "run"

    def stop(event):
        if event["type"] == "step" and event["step"] == 9:
            control.cancel()
    with pytest.raises(Cancelled):
        train(tiny_config(colour_data), out, on_event=stop, control=control)
    done = torchrun("train", "--out", str(out), "--resume", "--device", "cpu", "--workers", "0")
    assert done.returncode == 0, done.stderr[-3000:]
    steps = [r["step"] for r in RunDir(out).read_metrics() if r["type"] == "step"]
    assert steps == list(range(1, 25)) and RunDir(out).read_info()["processes"] == 2
    assert_same_weights(load_file(str(RunDir(out).last_file)), load_file(str(RunDir(flyp_run).last_file)))


def test_every_process_refuses_a_launch_with_more_processes_than_gpus(monkeypatch):
    """Rank 0's GPU exists, but it must not wait in the rendezvous for rank 1, which has none."""
    from core.training import distributed

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    for rank in (0, 1):
        with pytest.raises(FlypError, match="started 2 processes on this node but only 1 GPU"):
            distributed._backend("auto", rank)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")
    assert distributed._backend("cuda", 0) == "nccl"

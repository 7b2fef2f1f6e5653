"""Training on several processes (GPUs, nodes) started by `torchrun`: data parallel FLYP.

`torchrun --nproc_per_node=N -m core.cli train …` starts N copies of the command line with
RANK, WORLD_SIZE and LOCAL_RANK set; `launched()` joins them into one process group (nccl on
CUDA, one GPU per process; gloo on the CPU). Then:

- the batch size stays the *global* batch: every rank takes an equal contiguous share of each
  batch that a single process would draw (`ShardedBatches`), so the seeded (epoch, index) keys
  of `core.data.loader` give the same global batches, crops and captions as on one process;
- features are gathered across ranks with their gradients, so the contrastive matrix spans
  the global batch (`core.training.accumulate.global_contrastive_loss`), and the gradients are averaged
  across ranks (`Ranks.average_gradients`) — together exactly the single-process gradient;
- only rank 0 evaluates and writes the run folder (`FollowerRun` keeps the others read-only);
  `--resume` reads the run folder on every rank, so on several nodes it must be on a shared
  file system (as the data must be).

Gradients are all-reduced after the backward pass rather than overlapped with it (as
PyTorch's DDP wrapper would): simpler to keep exact with the feature cache of
`core.training.accumulate`, at the cost of one exposed all-reduce of the gradients per step.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterable, Iterator

import torch
import torch.distributed as dist

from core.errors import FlypError
from core.data.loader import EpochBatches
from core.training.runs import RunDir

# Rank 0 evaluates while the others wait in their next collective: allow long evaluations.
TIMEOUT = timedelta(minutes=60)
BUCKET_ELEMENTS = 16 * 1024 * 1024  # gradients are all-reduced in flat buckets of ≤ 64 MB (fp32)


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes; the default is a single process.

    `device` is the device a distributed run must use (None: a single process chooses).
    Every collective method is a no-op on a single process.
    """

    rank: int = 0
    size: int = 1
    device: torch.device | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def run_dir(self, path) -> RunDir:
        """The run folder: written by rank 0, only read by the others."""
        return RunDir(path) if self.is_main else FollowerRun(path)

    def agree(self, flag: bool) -> bool:
        """True on every rank when it is True on any (a stop request reaches all of them)."""
        if self.size == 1:
            return flag
        value = torch.tensor([float(flag)], device=self._collective_device())
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """Every rank's `tensor` concatenated in rank order; this rank's part keeps its gradient."""
        if self.size == 1:
            return tensor
        if tensor.requires_grad:  # backward: each rank receives the sum of its rows' gradients
            import warnings

            import torch.distributed.nn.functional as dist_fn

            with warnings.catch_warnings():
                # Deprecated in favour of a private module; still the public differentiable
                # all-gather (open_clip's ClipLoss uses it too).
                warnings.simplefilter("ignore", FutureWarning)
                return torch.cat(dist_fn.all_gather(tensor), dim=0)
        parts = [torch.empty_like(tensor) for _ in range(self.size)]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts, dim=0)

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of a (detached) tensor over ranks."""
        if self.size == 1:
            return value
        value = value.detach().clone()
        dist.all_reduce(value)
        return value / self.size

    def average_gradients(self, params: Iterable[torch.nn.Parameter]) -> None:
        """Replace each parameter's gradient by its mean over ranks (flat buckets, one all-reduce each)."""
        if self.size == 1:
            return
        for bucket in _buckets([p.grad for p in params if p.grad is not None]):
            flat = torch.cat([g.reshape(-1) for g in bucket])
            dist.all_reduce(flat)  # gloo has no AVG: sum, then divide
            flat /= self.size
            for grad, part in zip(bucket, flat.split([g.numel() for g in bucket])):
                grad.copy_(part.view_as(grad))

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()

    def _collective_device(self) -> torch.device:
        return self.device if self.device is not None else torch.device("cpu")


def _buckets(grads: list[torch.Tensor]) -> Iterator[list[torch.Tensor]]:
    bucket, count = [], 0
    for grad in grads:
        if bucket and (count + grad.numel() > BUCKET_ELEMENTS or grad.dtype != bucket[0].dtype):
            yield bucket
            bucket, count = [], 0
        bucket.append(grad)
        count += grad.numel()
    if bucket:
        yield bucket


def current() -> Ranks:
    """This process's ranks: from the joined process group, else a single process."""
    if not (dist.is_available() and dist.is_initialized()):
        return Ranks()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", local) if dist.get_backend() == "nccl" else torch.device("cpu")
    return Ranks(dist.get_rank(), dist.get_world_size(), device)


def launched_size() -> int:
    """How many processes torchrun started (1 when not started by torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


@contextlib.contextmanager
def launched(device: str = "auto") -> Iterator[Ranks]:
    """Join the process group of a `torchrun` launch for the block (nothing to do on one process).

    `device` is the user's `--device`: auto/cuda use one GPU per process (cuda:LOCAL_RANK,
    nccl), cpu uses gloo. Raises FlypError when the launch cannot work (mps, too few GPUs).
    """
    if launched_size() <= 1 or dist.is_initialized():
        yield current()
        return
    local = int(os.environ.get("LOCAL_RANK", "0"))
    backend = _backend(device, local)
    if backend == "nccl":
        torch.cuda.set_device(local)
        dist.init_process_group("nccl", timeout=TIMEOUT, device_id=torch.device("cuda", local))
    else:
        dist.init_process_group("gloo", timeout=TIMEOUT)
    try:
        ranks = current()
        yield ranks
        ranks.barrier()  # rank 0 finishes its last evaluation and writes before anyone leaves
    finally:
        dist.destroy_process_group()


def _backend(device: str, local_rank: int) -> str:
    device = (device or "auto").lower()
    if device == "cpu":
        return "gloo"
    if device == "mps" or (device.startswith("cuda") and not torch.cuda.is_available()):
        raise FlypError(f"«device» {device}: several processes (torchrun) train on CUDA GPUs or on the CPU "
                        "(«device» cpu)")
    if not torch.cuda.is_available():
        return "gloo"  # auto on a machine without CUDA
    # Every process checks the node's whole launch, not only its own GPU: a process whose GPU
    # exists would otherwise wait in the NCCL rendezvous for one that gave up (seen on one H200:
    # torchrun then needed its 30-second kill timeout).
    processes = int(os.environ.get("LOCAL_WORLD_SIZE", local_rank + 1))
    if max(processes, local_rank + 1) > torch.cuda.device_count():
        raise FlypError(f"torchrun started {processes} processes on this node but only "
                        f"{torch.cuda.device_count()} GPU(s) are visible: use --nproc_per_node "
                        f"{torch.cuda.device_count()} or fewer")
    return "nccl"


def check_shares(batch_size: int, n: int, ranks: Ranks) -> None:
    """Raise FlypError unless every rank can take an equal share of each batch of `n` images."""
    batch = min(batch_size, n)
    if batch % ranks.size:
        raise FlypError(f"«batch_size» {batch} cannot be shared equally by {ranks.size} processes: "
                        f"use a multiple of {ranks.size}")


class ShardedBatches(EpochBatches):
    """The global batches of `EpochBatches`, of which this rank yields its equal contiguous share."""

    def __init__(self, n: int, batch_size: int, seed: int, ranks: Ranks):
        super().__init__(n, batch_size, seed)
        self.ranks = ranks
        check_shares(batch_size, n, ranks)

    def __iter__(self):
        for keys in super().__iter__():
            share = len(keys) // self.ranks.size
            yield keys[self.ranks.rank * share:(self.ranks.rank + 1) * share]


class FollowerRun(RunDir):
    """The run folder as ranks other than 0 see it: readable, and every write is left to rank 0."""

    def write_info(self, info: dict) -> None:
        pass

    def update_info(self, **changes) -> dict:
        return {**(self.read_info() if self.exists() else {}), **changes}

    def append_metrics(self, record: dict) -> None:
        pass

    def truncate_metrics(self, after_step: int) -> None:
        pass

    def save_weights(self, which: str, state_dict: dict, meta: dict) -> None:
        pass

    def save_state(self, tensors: dict, meta: dict) -> None:
        pass

"""How PyTorch's CPU threads wait for each other, chosen for the machine as the process starts.

Between two operations PyTorch's OpenMP threads wait for the slowest of them. Spinning while
they wait is fastest on free cores (the tiny CLIP trained 1.51× faster than with sleeping
threads, idle, 2 cores); sleeping is fastest when something else wants a core, since a spinning
thread holds the core its partner needs (1.89× faster beside one busy process: a browser, a
second job, the other torchrun rank). The OpenMP library reads its setting once, when torch loads
it, so the choice is made here, before anything imports torch, from how busy the cores are at
that moment (benchmarks/README.md, "Waiting threads"):

- cores free: spin for a while (`GOMP_SPINCOUNT`, libgomp on Linux; `KMP_BLOCKTIME`, LLVM's
  libomp), then sleep — a bounded spin, so a finished run in the app does not hold a core;
- cores busy, or several processes of one run on this machine (torchrun): sleep at once
  (`OMP_WAIT_POLICY=PASSIVE`).

How threads wait changes no result: the number of threads, which decides how sums are split,
stays PyTorch's own choice, so a run resumed on a busier machine ends with the same weights.
A setting already in the environment wins, untouched.
"""

from __future__ import annotations

import importlib.abc
import os
import sys
import time
from typing import Callable

SAMPLE_S = 0.05          # how long the cores are watched before torch loads
BUSY_CORES = 0.5         # other work on at least half a core: the machine is shared
IDLE_SPINS = "3000000"   # libgomp's spins before sleeping, cores free (its default 300,000: ~3 ms)
IDLE_BLOCKTIME_MS = "200"  # the same for LLVM's libomp (its default)
USER_SETTINGS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")

CpuTimes = Callable[[], "tuple[float, float] | None"]


def proc_stat_times() -> tuple[float, float] | None:
    """(busy, total) jiffies of all cores from /proc/stat; None where there is none (not Linux)."""
    try:
        with open("/proc/stat", "rb") as f:
            fields = [float(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = sum(fields[3:5])  # idle, iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


def busy_cores(times: CpuTimes = proc_stat_times, sleep: Callable[[float], None] = time.sleep,
               cores: int | None = None) -> float | None:
    """How many cores other processes kept busy during `SAMPLE_S` (this one sleeps meanwhile);
    None when the platform does not say."""
    first = times()
    if first is None:
        return None
    sleep(SAMPLE_S)
    second = times()
    if second is None or second[1] <= first[1]:
        return None
    return (second[0] - first[0]) / (second[1] - first[1]) * (cores or os.cpu_count() or 1)


def choose(environ: dict, busy: float | None) -> dict[str, str]:
    """The variables to set: sleeping when the cores are shared, a bounded spin when free;
    nothing when the user set any of them."""
    if any(name in environ for name in USER_SETTINGS):
        return {}
    ranks = int(environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    if ranks > 1 or busy is None or busy >= BUSY_CORES:
        return {"OMP_WAIT_POLICY": "PASSIVE"}
    return {"GOMP_SPINCOUNT": IDLE_SPINS, "KMP_BLOCKTIME": IDLE_BLOCKTIME_MS}


def set_waiting(environ=os.environ) -> str:
    """Choose and set how torch's threads wait (before torch loads); returns the choice in words."""
    if any(name in environ for name in USER_SETTINGS):
        return "as set in the environment"
    chosen = choose(environ, busy_cores())
    environ.update(chosen)
    return "sleeping: the cores are shared" if "OMP_WAIT_POLICY" in chosen else "spinning: the cores were free"


class _BeforeTorch(importlib.abc.MetaPathFinder):
    """Makes the choice when torch is first imported, in whichever thread (the app loads torch in
    the background): a process that never loads torch never waits `SAMPLE_S` for it."""

    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            try:
                sys.meta_path.remove(self)
            except ValueError:  # another thread got here first
                return None
            set_waiting()
        return None  # the usual finders load it


def choose_before_torch() -> None:
    """Arrange for `set_waiting` to run just before torch first loads (nothing if it has)."""
    if "torch" not in sys.modules and not any(isinstance(f, _BeforeTorch) for f in sys.meta_path):
        sys.meta_path.insert(0, _BeforeTorch())


def threads_sleep(environ=os.environ) -> bool:
    """Whether torch's threads sleep while they wait (decoding beside them then costs nothing)."""
    return environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE"

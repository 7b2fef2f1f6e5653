"""PyTorch's waiting threads on a shared CPU: a demo training epoch with OMP_WAIT_POLICY ACTIVE
(OpenMP's spinning default) against PASSIVE (FLYP Studio's default, `core/__init__.py`).

Each measurement is `flyp train` of one FLYP epoch on the demo's training folder in a fresh
process (the policy is read when torch loads), wall time including start-up; the two policies
alternate, `--repeats` times each (median). Then the same while `--busy` other processes each
keep a core busy (a browser, a second job, the app's own window).

    python benchmarks/omp_wait.py [--repeats 2] [--busy 1]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def spin() -> None:
    while True:
        pass


def epoch_seconds(policy: str, data: Path, out: Path) -> float:
    """Wall seconds of one FLYP epoch of the demo in a fresh process under `policy`."""
    env = {**os.environ, "OMP_WAIT_POLICY": policy, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "core.cli", "train", "--train", str(data / "train"), "--val",
                    str(data / "val"), "--epochs", "1", "--out", str(out / policy.lower() / str(start))],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def measure(data: Path, out: Path, repeats: int) -> dict[str, float]:
    times = {"ACTIVE": [], "PASSIVE": []}
    for _ in range(repeats):
        for policy in times:
            times[policy].append(epoch_seconds(policy, data, out))
    return {policy: statistics.median(t) for policy, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--busy", type=int, default=1, help="other processes that keep a core busy")
    args = parser.parse_args()
    from core.demo.story import demo_paths, ensure_demo_data

    with tempfile.TemporaryDirectory() as tmp:
        data = demo_paths(ensure_demo_data(Path(tmp) / "data"))["train"].parent
        print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} before")
        idle = measure(data, Path(tmp), args.repeats)
        spinners = [multiprocessing.Process(target=spin, daemon=True) for _ in range(args.busy)]
        for process in spinners:
            process.start()
        try:
            busy = measure(data, Path(tmp), args.repeats)
        finally:
            for process in spinners:
                process.terminate()
        for name, figures in (("idle", idle), (f"{args.busy} other busy process(es)", busy)):
            print(f"{name:>26}: ACTIVE {figures['ACTIVE']:.1f} s, PASSIVE {figures['PASSIVE']:.1f} s "
                  f"(PASSIVE takes {figures['PASSIVE'] / figures['ACTIVE']:.2f}× the time)")
        print(f"load average {os.getloadavg()[0]:.1f} after")


if __name__ == "__main__":
    main()

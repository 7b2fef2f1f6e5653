"""Time the Data page's map (core.explore.map) on N random clustered 512-d features, 2 threads.

Prints seconds for PCA alone (the reference, same run) and for the whole map, and their ratio.
Only meaningful on a quiet machine: print the load average with it.
    PYTHONPATH=. python benchmarks/map_speed.py --n 5000
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")

import torch  # noqa: E402

from core.explore.map import _project  # noqa: E402
from core.progress import no_cancel, no_progress  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(10, 512, generator=g)
    x = (centres[torch.arange(args.n) % 10] + 0.5 * torch.randn(args.n, 512, generator=g)).numpy()
    from sklearn.decomposition import PCA
    start = time.perf_counter()
    PCA(n_components=50, random_state=0).fit_transform(x)
    pca = time.perf_counter() - start
    start = time.perf_counter()
    _project(x, 0, no_progress, no_cancel)
    whole = time.perf_counter() - start
    print(f"n={args.n} pca={pca:.2f}s map={whole:.2f}s ratio={whole / pca:.1f} "
          f"load={open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()

"""Time the Data page's map (core.explore.map) on N clustered 512-d features, 2 threads, and judge
its picture: scikit-learn's t-SNE (what the map used first) against openTSNE's FFT-accelerated one.

    PYTHONPATH=. python benchmarks/map_speed.py --n 5000

Prints, for each projection, its seconds, their ratio to PCA alone (the reference, measured in the
same run) and how well the picture keeps the clusters apart: the share of points whose 10 nearest
neighbours on the map are mostly of their own cluster. Only meaningful alone on the machine: the
load average is printed with it.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402


def features(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((10, 512))
    labels = np.arange(n) % 10
    return (centres[labels] + 0.5 * rng.standard_normal((n, 512))).astype(np.float32), labels


def kept_apart(xy: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    from sklearn.neighbors import NearestNeighbors

    neighbours = NearestNeighbors(n_neighbors=k + 1).fit(xy).kneighbors(xy, return_distance=False)[:, 1:]
    return float(((labels[neighbours] == labels[:, None]).mean(axis=1) > 0.5).mean())


def sklearn_tsne(x: np.ndarray) -> np.ndarray:
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = PCA(n_components=50, random_state=0).fit_transform(x)
    return TSNE(n_components=2, perplexity=30.0, init="pca", random_state=0).fit_transform(x)


def sklearn_tsne_short(x: np.ndarray) -> np.ndarray:
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = PCA(n_components=50, random_state=0).fit_transform(x)
    return TSNE(n_components=2, perplexity=30.0, init="pca", random_state=0, max_iter=500).fit_transform(x)


def open_tsne(x: np.ndarray) -> np.ndarray:
    from openTSNE import TSNE
    from sklearn.decomposition import PCA

    x = PCA(n_components=50, random_state=0).fit_transform(x)
    return np.asarray(TSNE(perplexity=30.0, initialization="pca", n_jobs=2, random_state=0).fit(x))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    x, labels = features(args.n)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    from sklearn.decomposition import PCA

    from core.explore.map import _project
    from core.progress import no_cancel, no_progress

    start = time.perf_counter()
    PCA(n_components=50, random_state=0).fit_transform(x)
    pca = time.perf_counter() - start
    print(f"n={args.n}, load before {open('/proc/loadavg').read().split()[:3]}; PCA alone {pca:.2f} s")
    try:
        import openTSNE  # noqa: F401
        others = (("openTSNE (FFT)", open_tsne),)
    except ImportError:
        others = ()
    for name, project in (("scikit-learn t-SNE", sklearn_tsne), ("scikit-learn t-SNE, 500 iterations", sklearn_tsne_short),
                          *others,
                          ("the map (core.explore.map)", lambda x: _project(x, 0, no_progress, no_cancel))):
        start = time.perf_counter()
        xy = project(x)
        seconds = time.perf_counter() - start
        print(f"| {name} | {seconds:.1f} s | {seconds / pca:.0f}× PCA | clusters kept apart {kept_apart(xy, labels):.1%} |")
    print(f"load after {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()

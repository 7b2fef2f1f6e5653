"""The app's responsiveness: time to the main window, and the UI thread's longest stalls.

    python benchmarks/app_responsiveness.py            # offscreen; under xvfb-run for a real display

Prints
- the time from a fresh interpreter to the main window shown (median of 5 launches), and
  whether torch or pyqtgraph had been imported by then (they must load later, in the background);
- while the Train page trains the demo model on the demo folders (2 epochs) and then the Blend
  page computes that run's α curve: the gaps between the beats of a 10 ms UI-thread timer —
  a gap over 100 ms is a stall a user can feel.
"""

from __future__ import annotations

import json
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
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_LOGGING_RULES", "qt.qpa.*=false")  # the offscreen platform's size-hint notices

LAUNCH = """
import sys, time, json
start = time.perf_counter()
from flyp_app.__main__ import create_app
app = create_app()
from flyp_app.window import MainWindow
window = MainWindow(load_engine=False)
window.show()
app.processEvents()
print(json.dumps({"window_s": time.perf_counter() - start, "torch": "torch" in sys.modules,
                  "pyqtgraph": "pyqtgraph" in sys.modules}))
"""


def startup() -> dict:
    runs = []
    for _ in range(5):
        begun = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", LAUNCH], capture_output=True, text=True, check=True, cwd=ROOT)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["process_s"] = time.perf_counter() - begun  # interpreter start included, exit too
        runs.append(result)
    return {"window_s": statistics.median(r["window_s"] for r in runs),
            "process_s": statistics.median(r["process_s"] for r in runs),
            "torch": any(r["torch"] for r in runs), "pyqtgraph": any(r["pyqtgraph"] for r in runs)}


def stalls(folder: Path) -> dict:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from core.demo.story import demo_project_file
    from flyp_app.__main__ import create_app
    from flyp_app.window import MainWindow

    app = create_app()
    project = demo_project_file(folder)
    window = MainWindow()
    window.resize(1280, 800)
    window.show()
    window.open_project(project)
    beats: list[float] = []
    heart = QTimer(interval=10)
    heart.timeout.connect(lambda: beats.append(time.perf_counter()))

    def wait(condition, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the app did not finish in time")
            app.processEvents()
            time.sleep(0.002)

    wait(lambda: window.state.ready)  # torch and open_clip imported in the background
    window.state.set_settings(epochs=2, auto=False)
    window.show_page("train")
    train = window.pages["train"]
    settle = time.monotonic() + 0.5  # the page is shown (its plots built) before the user can click Start
    wait(lambda: time.monotonic() > settle)
    heart.start()
    train.start_button.click()
    wait(lambda: not train.training())
    training = _gaps(beats)
    beats.clear()
    window.show_page("blend")  # Blend: its α curve is computed in the background
    blend = window.pages["blend"]
    wait(lambda: getattr(blend, "curve", None) is not None)
    blending = _gaps(beats)
    heart.stop()
    window.close()
    QApplication.processEvents()
    return {"training": training, "blend": blending}


def _gaps(beats: list[float]) -> dict:
    gaps = sorted(b - a for a, b in zip(beats, beats[1:]))
    if not gaps:
        return {"beats": 0}
    return {"beats": len(beats), "median_ms": 1000 * statistics.median(gaps),
            "p99_ms": 1000 * gaps[int(0.99 * (len(gaps) - 1))], "max_ms": 1000 * gaps[-1],
            "over_100ms": sum(g > 0.1 for g in gaps)}


def main() -> None:
    start = startup()
    print(f"main window shown {start['window_s']:.2f} s after the interpreter started the app "
          f"(whole process incl. interpreter start and exit {start['process_s']:.2f} s); "
          f"torch imported by then: {start['torch']}, pyqtgraph: {start['pyqtgraph']}")
    with tempfile.TemporaryDirectory() as tmp:
        found = stalls(Path(tmp))
    for phase, g in found.items():
        print(f"UI thread while {phase}: {g['beats']} beats of a 10 ms timer, median gap {g['median_ms']:.0f} ms, "
              f"99th percentile {g['p99_ms']:.0f} ms, longest {g['max_ms']:.0f} ms, {g['over_100ms']} gaps over 100 ms")


if __name__ == "__main__":
    main()

"""Screenshots of every page of FLYP Studio, taken of the real window after a demo run.

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python docs/screenshots/take.py

Drives the real MainWindow as a user would: opens the demo project from the welcome screen,
checks its labels and shows the map of its images, opens the demo's paintings as new images on the Label page, measures zero-shot
accuracy, trains the demo with the cross-entropy baseline and with FLYP on the Train page, moves
the Blend slider and opens a cell of its confusion matrix, opens a few demo images on Try and
classifies the validation folder there, exports, and compares.
Each page is saved as a PNG of the 1280×800 window (quantised with pngquant when installed).

The app's user folders (recent projects, the demo project and its runs) go to `--home`
(XDG_DATA_HOME and XDG_CONFIG_HOME point there; emptied first), so the pictures show a clean
app and your own projects are left alone. About 2½ minutes on a 2-core CPU, most of it training.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZE = (1280, 800)
METHODS = ("ce", "flyp")  # trained on the Train page in this order: the last, FLYP, is the one shown there
MARKER = ".flyp-screenshots"
BLEND_STEP = 12           # the Blend slider at α = 0.60 (steps of 0.05)


def main(shots_class=None, home_default: str = "/tmp/flyp-studio-screenshots", about: str = __doc__) -> int:
    """Shoot with `shots_class` (default `Shots`: every page; `take_search.py` passes its own)."""
    parser = argparse.ArgumentParser(description=about.splitlines()[0])
    parser.add_argument("--home", default=home_default,
                        help="where the app keeps its user folders while shooting (kept between runs)")
    parser.add_argument("--out", default=str(HERE), help="folder for the PNGs (docs/screenshots)")
    parser.add_argument("--until", default="", metavar="NAME",
                        help="stop after the picture NAME (label: the pages before training, in a minute)")
    args = parser.parse_args()
    home = Path(args.home)
    if home.exists():  # a clean app each time: no recent projects, runs or exports of an earlier shoot
        if any(home.iterdir()) and not (home / MARKER).is_file():
            raise SystemExit(f"take.py: {home} is not empty and was not made by take.py: choose another --home")
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / MARKER).write_text("made by docs/screenshots/take.py; removed by its next run\n")
    for name in ("data", "config", "cache"):
        os.environ[f"XDG_{name.upper()}_HOME"] = str(home / name)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(HERE.parents[1]))  # the checkout's flyp_app and core

    shots = (shots_class or Shots)(Path(args.out), home, args.until)
    try:
        shots.run()
    except Enough:
        pass
    return 0


class Enough(Exception):
    """The picture asked for with --until is taken."""


class Shots:
    def __init__(self, out: Path, home: Path, until: str = ""):
        from flyp_app.__main__ import create_app

        self.out, self.home, self.until = out, home, until
        self.app = create_app()
        self.out.mkdir(parents=True, exist_ok=True)

    # Waiting and shooting ---------------------------------------------------------------------------
    def wait(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise SystemExit(f"take.py: timed out after {timeout:.0f} s waiting for {what}")
            self.settle(50)

    def settle(self, ms: int = 600) -> None:
        """Run the event loop for `ms` (as exec() does, it lets the workers' threads have the GIL;
        QTest.qWait would starve them)."""
        from PySide6.QtCore import QEventLoop, QTimer

        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def shoot(self, name: str) -> Path:
        self.settle()
        if (self.window.width(), self.window.height()) != SIZE:  # a page wider than the screen pushed it
            print(f"take.py: warning: the window is {self.window.width()}×{self.window.height()} on {name}",
                  file=sys.stderr)
        path = self.out / f"{name}.png"
        if not self.window.grab().save(str(path)):
            raise SystemExit(f"take.py: could not write {path}")
        if shutil.which("pngquant"):  # UI pictures keep their look in 256 colours, at a third of the size
            subprocess.run(["pngquant", "--force", "--skip-if-larger", "--speed", "1", "--quality", "80-100",
                            "--output", str(path), str(path)], check=False)
        print(f"{path}  {path.stat().st_size // 1024} KB", flush=True)
        if name == self.until:
            raise Enough
        return path

    def page(self, name: str):
        return self.window.show_page(name)

    # The user's path -------------------------------------------------------------------------------
    def run(self) -> None:
        from core.demo.story import demo_project_file
        from core.project import remember_project
        from flyp_app.window import MainWindow

        # The demo project has been opened before, so the welcome screen lists it as a recent project.
        remember_project(demo_project_file())
        self.window = window = MainWindow()
        window.resize(*SIZE)
        window.show()
        self.wait(lambda: window.state.ready, 120, "PyTorch to load")
        self.shoot("welcome")

        window.open_demo()  # the welcome screen's "Open the demo project" button
        self.wait(lambda: window.state.project.path is not None, 300, "the demo project")
        self.wait(lambda: window.state.datasets is not None, 120, "the scan of the demo folders")
        self.shoot("data")

        data = self.page("data")
        data.check.start()  # the "Check labels" button
        self.wait(lambda: data.check.report is not None and not data.busy(), 900, "the label check")
        for row in data.check.review._images[data.check.report.suspicious[0].path][:1]:
            row.setSelected(True)  # the most suspicious image, selected to act on
        self.shoot("data-check")
        self.shoot_map(data)

        label = self.page("label")
        label.open_folder(str(self.window.state.project.resolve(self.window.state.project.ood_dirs[-1])))
        self.wait(lambda: label.items and all(i.probs for i in label.items.values()) and not label.busy(), 300,
                  "the Label page's suggestions")
        self.shoot("label")

        captions = self.page("captions")
        captions.measure_zero_shot()
        self.wait(lambda: captions.measure.isEnabled(), 300, "the zero-shot measure")
        self.shoot("captions")

        train = self.page("train")
        self.train_runs(train)
        self.shoot("train")

        blend = self.page("blend")
        self.wait(lambda: blend.curve is not None, 900, "the α curve")
        blend.slider.setValue(BLEND_STEP)
        self.wait(lambda: blend._exact_here() is not None and blend.gallery.count() > 0, 300,
                  "the exact blend and its misclassified images")
        self.shoot("blend")

        blend.by_class.setCurrentWidget(blend.confusion)
        self.show_fullest_mistake(blend)
        self.shoot("blend-confusion")

        blend.by_class.setCurrentWidget(blend.reliability)  # "How far to trust its confidence"
        self.wait(lambda: blend.reliability.widget().report is not None, 300, "the blend's calibration")
        self.shoot("blend-reliability")

        try_page = self.page("try")
        try_page.add_paths(self.sample_images())
        self.wait(lambda: try_page.items and all(i.probs is not None or i.error for i in try_page.items)
                  and not try_page.progress.isVisible(), 300, "the Try page's answers")
        self.shoot("try")

        try_page.classify_folder(str(self.window.state.project.resolve(self.window.state.project.val_dir)))
        self.wait(lambda: try_page.folder_results.export.isEnabled(), 300, "the classified folder")
        self.shoot("try-folder")
        try_page._close_folder()  # back to the single images, as the page's button does

        try_page.clear()
        try_page.add_paths(self.sample_images()[:4] + self.foreign_images())
        self.wait(lambda: try_page.items and all(i.probs is not None or i.error for i in try_page.items)
                  and try_page.novelty.isEnabled() and not try_page.progress.isVisible(), 300, "none of these")
        try_page.looked.click()  # "Where it looked"
        self.wait(lambda: all(i.heat is not None for i in try_page.items), 300, "the heat maps")
        self.shoot("try-trust")

        export = self.page("export")
        export.out.setText(str(self.home / "exports" / "Demo-model-alpha0.60"))
        export._out_changed(export.out.text())
        export.onnx.setChecked(True)
        export.export()
        self.wait(lambda: export.report is not None and export.export_button.isEnabled(), 600, "the export")
        self.shoot("export")

        compare = self.page("compare")
        self.wait(lambda: compare._worker is None and compare.rows and all(compare.rows), 900, "the Compare rows")
        self.shoot("compare")
        window.close()

    def shoot_map(self, data) -> None:
        """The Data page's Map tab: the demo's images laid out by the pretrained demo model, the label
        check's suspicious labels outlined, a lasso's worth of points selected."""
        data.see.setCurrentWidget(data.map)
        data.map.start()  # the "Show the map" button
        self.wait(lambda: data.map.points and not data.busy(), 600, "the map")
        view = data.map
        suspicious = [i for i, p in enumerate(view.points) if p["path"] == data.check.report.suspicious[0].path]
        if suspicious:
            view.plot._hovered(None, [view.plot.scatter.points()[suspicious[0]]], None)  # as the mouse would
            self.wait(lambda: view.thumb.pixmap() is not None and not view.thumb.pixmap().isNull(), 60,
                      "the hovered point's thumbnail")
            centre = view.points[suspicious[0]]
            near = sorted(range(len(view.points)), key=lambda i: (view.points[i]["x"] - centre["x"]) ** 2
                          + (view.points[i]["y"] - centre["y"]) ** 2)[:6]
            view.plot.selected = set(near)  # what a small lasso around it selects
            view.plot._draw()
            view.plot.selection_changed.emit()
        self.shoot("data-map")

    def train_runs(self, train) -> None:
        """Train each of METHODS from the Train page, as a user would press Start training."""
        import json

        state = self.window.state

        def finished_methods() -> dict[str, str]:
            found = {}
            for stored in state.project.runs:
                try:
                    info = json.loads((state.folder(stored) / "run.json").read_text())
                except (OSError, ValueError):
                    continue
                if info.get("status") == "finished":
                    found.setdefault(info["config"]["method"], stored)
            return found

        for method in METHODS:
            state.set_settings(method=method, auto=False)
            train.start()
            self.wait(lambda: not train.training(), 3600, f"the {method} run to finish")
            if method not in finished_methods():
                raise SystemExit(f"take.py: the {method} run did not finish: {train.message.text()}")
        train.params.toggle.setChecked(True)  # "Advanced settings": what the run was trained with
        self.wait(lambda: train.plots.graphics is not None and train.plots.point_counts().get("loss", 0) > 0, 60,
                  "the curves of the last run")

    def show_fullest_mistake(self, blend) -> None:
        """Click the confusion matrix's cell with the most mistakes, as a user would."""
        confusion = blend.exact["sets"][blend.set_combo.currentData()]["confusion"]
        cells = [(r, c) for r in range(len(confusion)) for c in range(len(confusion)) if r != c]
        row, col = max(cells, key=lambda rc: confusion[rc[0]][rc[1]])
        blend.confusion.table.setCurrentCell(row, col)
        blend.confusion.table.cellClicked.emit(row, col)
        self.wait(lambda: not blend.busy(), 120, "the cell's thumbnails")

    def foreign_images(self) -> list[str]:
        """Two pictures of none of the demo's classes: noise, and stripes."""
        from PIL import Image
        import numpy as np

        folder = self.home / "foreign"
        folder.mkdir(exist_ok=True)
        rng = np.random.default_rng(0)
        noise = Image.fromarray(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8))
        stripes = Image.fromarray(np.uint8(np.indices((96, 96))[1] // 8 % 2 * 255)[..., None].repeat(3, -1))
        paths = [folder / "noise.png", folder / "stripes.png"]
        for picture, path in zip((noise, stripes), paths):
            picture.save(path)
        return [str(p) for p in paths]

    def sample_images(self) -> list[str]:
        """Two images of each evaluation folder of the demo: normal photos, sketches, paintings."""
        project = self.window.state.project
        picked = []
        for stored in (project.val_dir, *project.ood_dirs):
            classes = sorted(p for p in project.resolve(stored).iterdir() if p.is_dir())
            for i, folder in enumerate(classes[1:3]):
                picked.append(str(sorted(folder.iterdir())[3 + 7 * i]))
        return picked


if __name__ == "__main__":
    sys.exit(main())

"""Every page of FLYP Studio at one window size, during a training and after it: for looking at
the layout as a user would (not the README's pictures; those are take.py's).

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python docs/screenshots/tour.py --size 1024x700 --out /tmp/tour

Opens the demo project, starts a FLYP run on the Train page and, while it trains, shows each
page; once it has finished, each page again (Blend at its best α, Try with a few demo images).
Writes `during-PAGE.png` and `after-PAGE.png`, and warns when a page made the window larger than
asked (a page that does not fit the screen).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import take  # noqa: E402  (beside this file)

PAGES = ("data", "label", "captions", "train", "blend", "try", "export", "compare")


class Tour(take.Shots):
    def run(self) -> None:
        from core.demo.story import demo_project_file
        from flyp_app.window import MainWindow

        demo_project_file()
        self.window = window = MainWindow()
        window.resize(*take.SIZE)
        window.show()
        self.wait(lambda: window.state.ready, 120, "PyTorch to load")
        window.open_demo()
        self.wait(lambda: window.state.datasets is not None, 300, "the scan of the demo folders")
        train = self.page("train")
        window.state.set_settings(method="flyp", auto=False)
        train.start()
        self.wait(lambda: train.plots.point_counts().get("loss", 0) > 2, 300, "the first steps")
        for name in PAGES:
            self.page(name)
            self.shoot(f"during-{name}")
        self.page("train")
        self.wait(lambda: not train.training(), 1800, "the run to finish")
        for name in PAGES:
            self.page(name)
            if name == "blend":
                blend = window.pages["blend"]
                self.wait(lambda: blend.curve is not None and blend._exact_here() is not None, 900, "the α curve")
            if name == "try":
                try_page = window.pages["try"]
                folder = Path(window.state.folder(window.state.project.val_dir))
                try_page.add_paths([str(p) for p in sorted(folder.rglob("*.png"))[:6]])
                self.wait(lambda: try_page.items and all(i.probs is not None or i.error for i in try_page.items)
                          and not try_page.progress.isVisible(), 300, "the Try page's answers")
            if name == "compare":
                compare = window.pages["compare"]
                self.wait(lambda: compare._worker is None and compare.rows and all(compare.rows), 900, "the rows")
            self.shoot(f"after-{name}")


if __name__ == "__main__":
    import argparse

    size = argparse.ArgumentParser(add_help=False)
    size.add_argument("--size", default="1024x700")
    known, rest = size.parse_known_args()
    take.SIZE = tuple(int(x) for x in known.size.split("x"))
    sys.argv = [sys.argv[0], *rest]
    sys.exit(take.main(Tour, home_default="/tmp/flyp-studio-tour", about=__doc__))

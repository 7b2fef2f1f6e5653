"""The screenshot of the Data page's search (`data-search.png`), taken of the real window.

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python docs/screenshots/take_search.py

Opens the demo project from the welcome screen as `take.py` does (same user folders under
`--home`, emptied first), types "a sketch of a star" into the Search tab of the Data page and
presses Enter; once the gallery and its thumbnails are in, selects the first image and shoots.
No training: about a minute on a 2-core CPU, most of it the image features of the demo's folders.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from take import Shots, SIZE, main  # noqa: E402  (take.py sits beside this script)

PHRASE = "a sketch of a star"


class SearchShot(Shots):
    def run(self) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        from flyp_app.window import MainWindow

        self.window = window = MainWindow()
        window.resize(*SIZE)
        window.show()
        self.wait(lambda: window.state.ready, 120, "PyTorch to load")
        window.open_demo()
        self.wait(lambda: window.state.project.path is not None, 300, "the demo project")
        self.wait(lambda: window.state.datasets is not None, 120, "the scan of the demo folders")
        data = self.page("data")
        search = data.search
        data.see.setCurrentWidget(search)
        QTest.keyClicks(search.field, PHRASE)
        QTest.keyClick(search.field, Qt.Key_Return)
        gallery = search.gallery
        self.wait(lambda: gallery.count() and search._worker is None, 600, "the search")
        self.wait(lambda: gallery._thumb_worker is None or not gallery._thumb_worker.running, 120, "the thumbnails")
        gallery.item(0).setSelected(True)  # the best match, selected to act on
        self.shoot("data-search")
        window.close()


if __name__ == "__main__":
    sys.exit(main(SearchShot, "/tmp/flyp-studio-screenshots", __doc__))

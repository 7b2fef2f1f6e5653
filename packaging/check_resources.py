"""Check that FLYP Studio finds its data files, and say where: `python packaging/check_resources.py [--inside DIR]`.

Run from a source checkout, or by an installed wheel's interpreter from any folder: the files
must resolve through importlib.resources (core/resources.py), never relative to the working
directory. With --inside, they must also come from under DIR (e.g. the venv's site-packages).
The app's side is checked too: the style sheet is applied and the window icon has every size.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REQUIRED = ["presets/templates.json", "model_configs/flyp-tiny.json", "style.qss", "icons/flyp-studio.svg",
            *(f"icons/flyp-studio-{size}.png" for size in (16, 32, 48, 64, 128, 256))]
DEMO_MODEL = "models/demo/open_clip_config.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inside", type=Path, help="the files must lie under this folder")
    args = parser.parse_args()

    from core.resources import resource_path

    root = resource_path("style.qss").parent.resolve()
    print(f"resources: {root}")
    missing = [name for name in REQUIRED if not resource_path(*name.split("/")).is_file()]
    if missing:
        sys.exit(f"missing from {root}: {', '.join(missing)}")
    if args.inside and not root.is_relative_to(args.inside.resolve()):
        sys.exit(f"resources resolve to {root}, not under {args.inside}")
    demo = resource_path(*DEMO_MODEL.split("/")).is_file()
    print(f"{len(REQUIRED)} data files found; embedded demo model: {'present' if demo else 'absent'}")

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from flyp_app.__main__ import ICON_SIZES, app_icon
    from flyp_app.theme import style_sheet

    app = QApplication.instance() or QApplication([])
    sizes = sorted(s.width() for s in app_icon().availableSizes())
    if sizes != sorted(ICON_SIZES):
        sys.exit(f"window icon sizes {sizes}, expected {list(ICON_SIZES)}")
    if not style_sheet().strip():
        sys.exit("the app's style sheet (resources/style.qss) was not found")
    print(f"app: style sheet and window icon ({', '.join(map(str, sizes))} px) found")
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())

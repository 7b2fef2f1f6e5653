"""Draw the Compare page's plot of some runs into a PNG, without showing a window.

    python -m flyp_app.compare_png RUN... --out docs/demo-compare.png [--size 900x600] [--cached-only]

For the README and reports: the same widget as the app's Compare page, rendered offscreen
(the α curves come from each run's `blend_curve.json`, computed first where missing).
"""

from __future__ import annotations

import argparse
import os
import sys


def render(run_dirs: list[str], out: str, size: tuple[int, int] = (900, 600), compute: bool = True,
           title: str | None = None) -> list[dict]:
    """Write the plot of `run_dirs` to `out`; return the rows drawn (core.weights.compare.compare_runs)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from core.weights.compare import compare_runs, expand_runs
    from flyp_app.theme import style_sheet
    from flyp_app.widgets.compare_plot import ComparePlotBox

    app = QApplication.instance() or QApplication([])
    rows = compare_runs(expand_runs(run_dirs), "cpu", compute=compute)
    box = ComparePlotBox()  # the plot under its legend, as on the Compare page
    box.setStyleSheet(style_sheet() + "\nQWidget { background: white; }")  # the app's: the legend's padding
    if title:
        box.plot.setTitle(title, size="10pt", color="#333333")
    box.resize(*size)
    box.plot.set_rows(rows)
    box.show()
    app.processEvents()
    if not box.grab().save(out):
        from core.errors import FlypError

        raise FlypError(f"{out}: could not write the PNG")
    box.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flyp_app.compare_png", description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="RUN")
    parser.add_argument("--out", required=True, metavar="PNG")
    parser.add_argument("--size", default="900x600", help="width x height in pixels (900x600)")
    parser.add_argument("--title", default=None)
    parser.add_argument("--cached-only", action="store_true", help="compute no α curve")
    args = parser.parse_args(argv)
    from core.weights.compare import format_table
    from core.errors import FlypError

    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
        rows = render(args.runs, args.out, (width, height), compute=not args.cached_only, title=args.title)
    except (FlypError, ValueError) as exc:
        print(f"compare_png: error: {exc}", file=sys.stderr)
        return 2
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

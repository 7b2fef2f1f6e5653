"""`flyp-studio [PROJECT]` / `python -m flyp_app`: open the main window at once.

Where there is no display to open it on (a server, an SSH session), `flyp-studio --demo` runs the
demo in the terminal instead (`flyp demo`), and anything else says so in one line.
"""

from __future__ import annotations

import argparse
import os
import sys

APP_ID = "org.flypstudio.FlypStudio"  # the .desktop, AppStream and icon name (packaging/linux)
ICON_SIZES = (16, 32, 48, 64, 128, 256)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="flyp-studio", description="FLYP Studio desktop app")
    parser.add_argument("project", nargs="?", help="a project file (*.flyp.json) to open")
    parser.add_argument("--demo", action="store_true", help="open the demo project")
    args = parser.parse_args(argv)
    if not display_available():
        if args.demo:
            print("flyp-studio: no display here, so the demo runs in this terminal (flyp demo)", file=sys.stderr)
            from core.cli import main as flyp

            return flyp(["demo"])
        print("flyp-studio: no display to open the window on (DISPLAY and WAYLAND_DISPLAY are not set); "
              "in a terminal the flyp command does the same work: type flyp to see what it can do", file=sys.stderr)
        return 2

    app = create_app()
    from flyp_app.errors import ErrorReporter, log, start_logging
    from flyp_app.window import MainWindow

    start_logging()
    log.info("FLYP Studio starting")
    reporter = ErrorReporter(app)
    reporter.install()

    window = MainWindow()
    window.show()
    if args.project:
        window.open_project(args.project)
    elif args.demo:
        window.open_demo()
    code = app.exec()
    from flyp_app.workers import wait_for_background_work

    wait_for_background_work()
    return code


def display_available() -> bool:
    """False on Linux without an X11 or Wayland display, unless Qt was told which platform to use
    (QT_QPA_PLATFORM, e.g. offscreen); Windows and macOS always have one."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def create_app():
    """The QApplication with the app's name, icon and style (pyqtgraph and torch are not imported)."""
    from PySide6.QtWidgets import QApplication

    from flyp_app import theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("FLYP Studio")
    app.setOrganizationName("FLYP Studio")
    app.setDesktopFileName(APP_ID)  # Wayland and the task bar match the window to its menu entry
    app.setWindowIcon(app_icon())
    theme.apply(app)
    return app


def app_icon():
    """The window and task-bar icon, in every size shipped under resources/icons."""
    from PySide6.QtGui import QIcon

    from core.resources import resource_path

    icon = QIcon()
    for size in ICON_SIZES:
        icon.addFile(str(resource_path("icons", f"flyp-studio-{size}.png")))
    return icon


if __name__ == "__main__":
    sys.exit(main())

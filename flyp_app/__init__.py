"""FLYP Studio, the desktop app: PySide6 pages over the Qt-free engine in `core`.

torch and open_clip are imported only inside worker functions (through `core`), so the window
appears before they have loaded.
"""

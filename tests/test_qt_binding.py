"""The installed Qt binding must not leak references to None (PySide6 6.12.0 did: the app aborted)."""

import sys


def test_qt_calls_do_not_leak_none_references():
    from PySide6.QtCore import QObject

    obj = QObject()
    before = sys.getrefcount(None)
    for _ in range(10000):
        obj.setObjectName("x")
    assert abs(sys.getrefcount(None) - before) < 100

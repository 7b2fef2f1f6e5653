"""What Ctrl+V hands the Try page: image files or folders copied in a file manager (or one path
copied as text), or a copied picture as PNG bytes."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QGuiApplication


def clipboard_contents() -> tuple[list[str], bytes | None]:
    """(paths, None) for files, folders or an existing path as text; ([], PNG bytes) for an image;
    ([], None) when the clipboard holds neither."""
    clipboard = QGuiApplication.clipboard()
    mime = clipboard.mimeData()
    files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
    text = mime.text().strip() if mime.hasText() else ""
    if files:
        return files, None
    if mime.hasImage():
        raw = QByteArray()
        buffer = QBuffer(raw)
        buffer.open(QIODevice.WriteOnly)
        clipboard.image().save(buffer, "PNG")
        return [], bytes(raw.data())
    if text and "\n" not in text and Path(text).exists():
        return [text], None
    return [], None

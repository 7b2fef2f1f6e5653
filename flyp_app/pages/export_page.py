"""Page: Export (placeholder until the page is built)."""

from __future__ import annotations

from flyp_app.pages.base import Page


class ExportPage(Page):
    title = "Export"

    def training(self) -> bool:
        return False

    def stop_and_wait(self) -> None:
        pass

    def add_paths(self, paths) -> None:
        pass

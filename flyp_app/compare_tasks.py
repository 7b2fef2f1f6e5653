"""The Compare page's background work: runs compared side by side, and soups of several runs.
No Qt; run like every task (`flyp_app.workers`).
"""

from __future__ import annotations


def compare_rows(paths: list[str], device: str, progress=None, control=None, emit=None) -> list[dict]:
    """Rows of `core.weights.compare.compare_runs`; each is also sent as (index, row) when ready."""
    from core.weights.compare import compare_runs
    from core.model.loading import select_device
    from core.progress import no_cancel

    return compare_runs(paths, select_device(device), progress=progress or (lambda *_: None),
                        cancel=control or no_cancel, on_row=(lambda i, row: emit((i, row))) if emit else None)


def soup_run(paths: list[str], out: str, greedy: bool, device: str, progress=None, control=None, emit=None) -> dict:
    """Average the runs into the new run folder `out` (core.weights.soups); its run.json, and "path"."""
    from core.model.loading import select_device
    from core.progress import no_cancel
    from core.weights.soups import make_soup

    say = (lambda e: emit(e["message"]) if emit and e.get("type") == "status" else None)
    return make_soup(paths, out, greedy=greedy, device=select_device(device), on_event=say,
                     cancel=control or no_cancel) | {"path": out}

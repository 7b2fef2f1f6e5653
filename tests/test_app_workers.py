"""The one worker abstraction: what a worker reports reaches the page, however fast it is."""

import threading

from flyp_app import workers


class RunAtOnce:
    """A thread pool that runs the worker inside `start`: the fastest worker there can be."""

    def start(self, worker) -> None:
        worker.run()


def quick(progress=None, control=None, emit=None) -> str:
    progress(1, 2)
    emit("halfway")
    progress(2, 2)
    return "answer"


def test_a_worker_that_finishes_at_once_loses_no_signal(qtbot):
    heard = []
    workers.start(workers.Worker(quick), pool=RunAtOnce(), on_progress=lambda done, total: heard.append((done, total)),
                  on_event=heard.append, on_done=heard.append, on_ended=lambda: heard.append("ended"))
    assert heard == [(1, 2), "halfway", (2, 2), "answer", "ended"]


def test_failures_and_cancellation_are_heard_too(qtbot):
    def fails(progress=None, control=None, emit=None):
        from core.errors import FlypError

        raise FlypError("data/train: no such folder")

    def cancels(progress=None, control=None, emit=None):
        from core.errors import Cancelled

        raise Cancelled()

    heard = []
    workers.start(workers.Worker(fails), pool=RunAtOnce(), on_error=heard.append, on_ended=lambda: heard.append("ended"))
    workers.start(workers.Worker(cancels), pool=RunAtOnce(), on_cancelled=lambda: heard.append("cancelled"))
    assert heard == ["data/train: no such folder", "ended", "cancelled"]


def test_the_background_engine_import_leaves_pyqtgraph_to_the_ui_thread():
    """pyqtgraph's import walks every Qt class; run in a worker next to a busy UI thread it
    crashed the app (segmentation fault) under a real display. The engine-ready slot, on the UI
    thread, imports it instead."""
    import subprocess
    import sys

    code = ("import sys; from flyp_app import window_tasks; window_tasks.import_engine(); "
            "print('torch' in sys.modules, 'pyqtgraph' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "False"]


def test_a_worker_outliving_its_page_ends_quietly_and_the_app_waits_for_it(qtbot):
    """Closing the window mid-work (the Blend page measuring a curve) deletes the objects a
    worker reports through; the worker must end without a traceback, and before the app exits."""
    import shiboken6
    from PySide6.QtCore import QThreadPool

    from core.errors import Cancelled

    started, deleted, ended = threading.Event(), threading.Event(), []

    def slow(progress=None, control=None, emit=None):
        started.set()
        deleted.wait(5)  # report only once the objects are gone (deleting them mid-emit is a crash in Qt itself)
        while not control.cancelled():
            progress(1, 2)
        ended.append(True)
        raise Cancelled()

    worker = workers.start(workers.Worker(slow), pool=QThreadPool.globalInstance(), on_progress=lambda *a: None)
    assert started.wait(5)
    shiboken6.delete(worker.signals)  # what the window's closing does to a page's worker
    deleted.set()
    assert workers.wait_for_background_work(5)
    assert ended and not worker.running


def submits_after_shutdown(progress=None, control=None, emit=None):
    """Work that hands a thread pool a task after the pool was shut down under it."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(1)
    pool.shutdown()
    return pool.submit(print).result()


def test_a_worker_whose_thread_pool_shut_down_as_the_app_closed_ends_quietly(qtbot, monkeypatch, caplog):
    """"cannot schedule new futures after (interpreter) shutdown" was logged as an internal error
    when the window closed right after a run: a worker still busy as the interpreter ends, or one
    cancelled by its closed page, ends as cancelled, with nothing to show and no error logged."""
    import concurrent.futures.thread
    import logging

    heard = []
    caplog.set_level(logging.DEBUG, logger="flyp_app")
    closed = workers.Worker(submits_after_shutdown)
    closed.cancel()  # what closing its page does
    workers.start(closed, pool=RunAtOnce(), on_error=heard.append, on_cancelled=lambda: heard.append("cancelled"))
    monkeypatch.setattr(concurrent.futures.thread, "_shutdown", True)  # what the interpreter's exit sets
    workers.start(workers.Worker(quick_pool_user), pool=RunAtOnce(), on_error=heard.append,
                  on_cancelled=lambda: heard.append("cancelled"))
    assert heard == ["cancelled", "cancelled"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def quick_pool_user(progress=None, control=None, emit=None):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(print).result()


def test_a_pool_shut_down_under_a_worker_nobody_stopped_is_still_an_internal_error(qtbot, caplog):
    import logging

    heard = []
    workers.start(workers.Worker(submits_after_shutdown), pool=RunAtOnce(), on_error=heard.append)
    assert len(heard) == 1 and heard[0].startswith("Internal error: RuntimeError: cannot schedule new futures")
    assert [r for r in caplog.records if r.levelno >= logging.ERROR]

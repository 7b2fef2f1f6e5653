"""The end of a run: its best checkpoint measured once on the test set, after every choice.

The test set (`test_dir` or `test_fraction`, `core.data.folders.load_datasets`) is never among
the sets evaluated during training, so no choice (learning rate, checkpoint, α) can see it; its
figures land in run.json as `best.sets.test` (`accuracy`, `macro_f1`, `n`, `per_class`), the
figure to quote.
"""

from __future__ import annotations

from core.data.loader import EvalImages
from core.model.loading import read_state_dict


def finish(session, on_event, control, best: dict | None = None) -> dict:
    """Mark the run finished, its best checkpoint (`best`, else run.json's) tested first."""
    run = session.run
    best = best or run.read_info().get("best")
    if session.data.test and best and session.ranks.is_main:
        on_event({"type": "status", "message": f"Testing the best checkpoint on {len(session.data.test)} test images…"})
        best = {**best, "sets": {**best["sets"], "test": scores_on_test(session, run.weights_file("best"), control)}}
    return run.update_info(status="finished", seconds=session.seconds(), **({"best": best} if best else {}))


def scores_on_test(session, weights_file, control) -> dict:
    """The test set's accuracy, macro-F1, n and accuracy per class, with the weights in `weights_file`."""
    clf = session.classifier
    clf.load_state_dict(read_state_dict(weights_file))
    clf.invalidate()
    images = EvalImages(session.data.test, clf.loaded.image_size, clf.loaded.preprocess["interpolation"], control)
    metrics = clf.evaluate(images, cancel=control)
    return metrics.to_json() | {"per_class": metrics.per_class}

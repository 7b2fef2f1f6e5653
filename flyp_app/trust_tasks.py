"""Background work for trusting predictions (`core.trust`): the "none of these" threshold's
choices on the Try page, heat maps of where the model looked, and the Blend page's reliability
view. No Qt; run like every task of `flyp_app.tasks`, with the same `Caches`.
"""

from __future__ import annotations

from flyp_app.tasks import Caches


def novelty_choices(caches: Caches, run_dir: str, device: str, alpha: float, progress=None, control=None,
                    emit=None) -> dict | None:
    """What moving the "none of these" threshold does for the run at α: {"keep" (the engine's share
    of validation kept), "threshold" (its threshold), "rows" (`core.trust.choices.keep_choices`
    over the run's evaluation sets)}; None for a run whose training images are gone."""
    from core.labelling.predictor import from_run
    from core.progress import no_cancel
    from core.trust.choices import keep_choices, set_scores

    cancel = control or no_cancel
    session = caches.blend_session(run_dir, device)
    with session.lock:
        predictor = from_run(session.blended, alpha)
        novelty = caches.novelty(predictor.key, predictor.novelty_model)
        if novelty is None:
            return None
        scores = set_scores(predictor, novelty, session.eval_sets(cancel=control), cache=caches.feature_cache(predictor.key),
                            cancel=cancel)
    return {"keep": novelty.keep, "threshold": novelty.threshold, "rows": keep_choices(novelty, scores)}

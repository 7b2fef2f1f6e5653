"""Background work for trusting predictions (`core.trust`): the "none of these" threshold's
choices on the Try page, heat maps of where the model looked, and the Blend page's reliability
view. No Qt; run like every task (`flyp_app.workers`), with the one `flyp_app.caches.Caches`.
"""

from __future__ import annotations

from flyp_app.caches import Caches


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


def explain_items(caches: Caches, run_dir: str, device: str, alpha: float, target: tuple, items: list[dict],
                  class_index: int | None = None, progress=None, control=None, emit=None) -> None:
    """Where the model looked (`core.trust.explain`) in each of `items` ({"key", "name", "path",
    "data"}, as `flyp_app.try_tasks.classify_items` takes them, and an item's own "class_index" or
    class folder "class" if it has one), for the class `class_index` (None: each image's most
    likely class), by the run at α: sends {"target", "class_index", "key", "png"} (the image with
    its heat map over it, thumbnail-sized) or {…, "error"} per image."""
    from core.trust.explain import explainer_of

    session = caches.blend_session(run_dir, device)

    def explainer():
        session.at(alpha)  # under the session's lock: the blend's weights stay at α while the maps are made
        return explainer_of(session.blended)
    _explain_each(caches, session.blended.classifier.loaded.image_size, session.lock, explainer, target, items,
                  class_index, progress, control, emit)


def explain_source(caches: Caches, source: dict, device: str, target, items: list[dict], class_index: int | None = None,
                   progress=None, control=None, emit=None) -> None:
    """`explain_items` for the Label page's suggestion source (`flyp_app.label_tasks.open_source`'s
    `source`): a run at its α, or the pretrained model with the project's captions (zero-shot)."""
    import threading

    from core.model.classifier import Classifier
    from core.trust.explain import classifier_explainer

    if source["kind"] == "run":
        return explain_items(caches, source["path"], device, source["alpha"], target, items, class_index,
                             progress, control, emit)
    loaded = caches.model(source["model"], source["pretrained"], device)
    made = []

    def explainer():  # the zero-shot head once, on the first image
        if not made:
            made.append(classifier_explainer(Classifier(loaded, source["names"], source["templates"]),
                                             source["classes"]))
        return made[0]
    _explain_each(caches, loaded.image_size, threading.Lock(), explainer, target, items, class_index, progress,
                  control, emit)


def _explain_each(caches: Caches, size: int, lock, explainer, target, items, class_index, progress, control,
                  emit) -> None:
    """Each item's heat map by `explainer()` (called under `lock`), sent as `explain_items` says."""
    from core.data.transforms import open_new_image
    from core.errors import Cancelled, FlypError
    from core.trust.explain import explain, overlay
    from flyp_app.words import error_text

    for done, item in enumerate(items, 1):
        if control is not None and control.cancelled():
            raise Cancelled()
        answer = {"target": target, "class_index": class_index, "key": item["key"]}
        try:
            image = open_new_image(item["path"] or item["name"], size, data=item["data"])
            with lock:
                chosen = explainer()
                index = item.get("class_index", class_index)
                name = item.get("class") or (None if index is None else chosen.class_names[index])
                explanation = explain(chosen, image, name)
            answer["png"] = caches.thumbnail_png(image=overlay(explanation))
        except FlypError as exc:
            answer["error"] = error_text(exc)
        emit(answer)
        if progress is not None:
            progress(done, len(items))


def calibration_at(caches: Caches, run_dir: str, device: str, alpha: float, progress=None, control=None,
                   emit=None) -> dict:
    """The blend's calibration at α on the run's evaluation sets (`core.trust.fitting.measure_blend`:
    the temperature fitted on ID validation only, every set reported, with the novelty score's
    lowering where the run has one), and "calibrated_predictions": whether predictions at α divide
    by a temperature (`core.trust.temperature.run_temperature`: the one measured at export at this α,
    else the α curve's) or give the raw softmax."""
    from core.progress import no_cancel
    from core.trust.fitting import measure_blend
    from core.trust.temperature import run_temperature

    session = caches.blend_session(run_dir, device)
    novelty = caches.run_novelty(session, alpha)
    with session.lock:
        session.at(alpha)
        report = measure_blend(session.blended, session.eval_sets(cancel=control), novelty, cancel=control or no_cancel)
    return report | {"calibrated_predictions": run_temperature(run_dir, alpha) is not None}


def control_curve(caches: Caches, run_dir: str, device: str, folder: str, progress=None, control=None,
                  emit=None) -> dict:
    """What finetuning forgot: the run's zero-shot accuracy on the control `folder` at each α
    (`core.trust.forgetting.control_curve`)."""
    from core.progress import no_cancel
    from core.trust.forgetting import control_curve as curve_of

    session = caches.blend_session(run_dir, device)
    with session.lock:  # the blend moves through every α; whoever holds the lock next sets its own
        return curve_of(session.blended, folder, progress=progress or (lambda *_: None), cancel=control or no_cancel)

"""Exporting a blended model as a self-contained bundle that verifies itself.

A bundle folder holds `open_clip_model.safetensors` + `open_clip_config.json` (plain open_clip
loads it: `create_model_and_transforms("local-dir:BUNDLE")`, or, uploaded to the Hugging Face Hub,
`create_model_and_transforms("hf-hub:ORG/NAME")`), the tokenizer's files where the model has its
own (SigLIP, BiomedCLIP), a transformers text tower's config (`text_tower/`), the class head, `flyp.json` (classes, templates, α, preprocessing,
metrics, provenance), a README model card with the Hub's metadata header (core.export.card) and
optionally `model.onnx`. It is written to a temporary folder, reloaded and compared with the
model in memory, and only then moved into place.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
import time
from pathlib import Path

import torch

from core import __version__, atomic
from core.weights.blend import BlendedRun
from core.export.card import model_card
from core.export.bundle import (BUNDLE_FORMAT, CARD_FILE, CONFIG_FILE, HEAD_FILE, INFO_FILE, MODEL_FILE,
                                ONNX_FILE, TEXT_TOWER_DIR, load_bundle)
from core.model.classifier import HEAD_KEYS
from core.errors import FlypError, WriteError
from core.trust.novelty import as_predicted

VERIFY_IMAGES = 8
TOLERANCE = 1e-4


def export_bundle(blended: BlendedRun, out: str | Path, *, onnx: bool = False, metrics: dict | None = None,
                  check_images: list[Path] | None = None, novelty=None, calibration: dict | None = None) -> dict:
    """Write the classifier at `blended.alpha` to folder `out`; return the self-check report.

    `novelty` (a `core.trust.novelty.NoveltyModel` at this α; by default fitted now on the run's
    training and validation images) travels in the bundle and its ONNX graph, and the self-check
    compares its scores too. `calibration` (`core.trust.fitting.calibration_summary`: the
    temperature fitted on ID validation and each set's calibration error) goes into flyp.json and
    the model card.

    `check_images` (default: a few of the run's validation images) are classified by the model
    in memory and by the reloaded bundle; a disagreement aborts the export and leaves `out` as
    it was. So does a write error (a full disk): it is a WriteError naming `out`.
    """
    out = Path(out).expanduser()
    if out.exists() and not (out / INFO_FILE).is_file():
        raise FlypError(f"{out}: exists and is not a FLYP bundle; choose a new folder")
    kept = "the previous bundle is kept" if out.exists() else "nothing was written"
    _refuse_non_finite(blended)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(out)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}{atomic.TMP_MARK}{os.getpid()}-", dir=out.parent))
        os.chmod(staging, atomic.FOLDER_MODE)  # mkdtemp's 0700 would make the bundle private
    except OSError as exc:
        raise WriteError(out, exc.strerror or str(exc), kept) from None
    try:
        novelty = novelty if novelty is not None else _fit_novelty(blended)
        metrics = _with_test(blended, metrics or {})
        _write(blended, staging, metrics, out.name, novelty, calibration)
        if onnx:
            from core.export.onnx_model import export_onnx

            from core.trust.temperature import from_calibration

            export_onnx(blended, staging / ONNX_FILE, novelty, from_calibration(calibration, staging / INFO_FILE))
        report = verify_bundle(blended, staging, check_images or _default_check_images(blended), onnx=onnx,
                               novelty=novelty)
        _replace_folder(staging, out)
    except WriteError as exc:  # name the bundle, not the temporary folder it was being written to
        raise WriteError(out, f"{exc.reason} (writing {Path(exc.path).name})", kept) from None
    except OSError as exc:
        raise WriteError(out, exc.strerror or str(exc), kept) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"path": str(out), **report, **({"test": metrics["test"]} if "test" in metrics else {})}


def _with_test(blended: BlendedRun, metrics: dict) -> dict:
    """`metrics` with the test set's figures at the exported α first (the figure to quote), for a run
    trained with a test set; a run trained before test sets existed keeps its figures as they are."""
    from core.weights.blend import test_scores_at

    test = test_scores_at(blended, blended.alpha)
    if test is None:
        return metrics
    return {"test": {k: test[k] for k in ("accuracy", "macro_f1", "n")}} | {k: v for k, v in metrics.items() if k != "test"}


def measure_for_export(run_dir, blended: BlendedRun, sets: dict, novelty=None, cancel=None) -> tuple:
    """What an export of the blend carries besides its weights: the novelty score at its α
    (`novelty`, else fitted now; None when the run's training images are gone) and its calibration
    summary on the run's evaluation `sets` (T fitted on ID validation only), which is kept in the
    run's run.json too (`calibration`)."""
    from core.training.runs import RunDir
    from core.trust.fitting import calibration_summary, measure_blend

    novelty = novelty if novelty is not None else _fit_novelty(blended)
    calibration = calibration_summary(measure_blend(blended, sets, novelty, cancel=cancel or (lambda: False)))
    RunDir(run_dir).update_info(calibration=calibration)
    return novelty, calibration


def _fit_novelty(blended: BlendedRun):
    """The novelty score at the blend's α, from the run's images; None when they are gone."""
    from core.labelling.predictor import from_run

    return from_run(blended, blended.alpha).novelty_model()


def _remove_stale_staging(out: Path) -> None:
    """Remove the hidden staging folders that exports into `out` killed midway left beside it
    (named `.OUT.flyp-PID-…`); one whose process still runs is another export's, and stays."""
    for leftover in out.parent.glob(f".{glob.escape(out.name)}{atomic.TMP_MARK}*"):
        pid = leftover.name[len(out.name) + 1 + len(atomic.TMP_MARK):].partition("-")[0]
        if leftover.is_dir() and not (pid.isdigit() and _alive(int(pid))):
            shutil.rmtree(leftover, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _refuse_non_finite(blended: BlendedRun) -> None:
    """A model with NaN or infinite weights predicts NaN for every image: it is never exported."""
    for key, value in blended.classifier.state_dict().items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise FlypError(f"{blended.run.path}: the model at α={blended.alpha:g} holds NaN or infinite values "
                            f"({key}); nothing was exported")


def _write(blended: BlendedRun, folder: Path, metrics: dict, name: str, novelty=None, calibration=None) -> None:
    clf, info = blended.classifier, blended.info
    state = {k: v for k, v in clf.state_dict().items() if k not in HEAD_KEYS}
    atomic.save_safetensors(state, folder / MODEL_FILE)
    if clf.linear_head is not None:
        head = {"weight": clf.linear_head.weight, "bias": clf.linear_head.bias, "scale": torch.tensor(1.0)}
    else:
        weight = clf.text_head()
        head = {"weight": weight, "bias": torch.zeros(weight.shape[0]),
                "scale": clf.model.logit_scale.detach().exp().reshape(())}
    atomic.save_safetensors(head, folder / HEAD_FILE)
    preprocess = clf.loaded.preprocess
    atomic.write_json(folder / CONFIG_FILE, {"model_cfg": clf.loaded.model_cfg, "preprocess_cfg": preprocess})
    _write_tokenizer(clf.loaded.tokenizer, folder)
    _write_text_tower_config(clf.model, folder)
    flyp = {
        "format": BUNDLE_FORMAT, "name": name,  # the bundle folder's name, as the model card calls the model
        "model": info["model"]["spec"], "open_clip_name": info["model"]["open_clip_name"],
        "class_names": clf.class_names, "class_folders": info["classes"], "templates": clf.templates,
        "alpha": blended.alpha, "method": info["config"]["method"], "preprocess": preprocess,
        "metrics": metrics,
        "provenance": {"run": str(blended.run.path), "config": info["config"],
                       "exported": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "flyp_studio": __version__},
    }
    if novelty is not None:
        from core.trust.stored import write_novelty

        flyp["novelty"] = write_novelty(novelty, folder)
    if calibration is not None:
        flyp["calibration"] = calibration
    atomic.write_json(folder / INFO_FILE, flyp)
    atomic.write_text(folder / CARD_FILE, model_card(flyp))


def _write_tokenizer(tokenizer, folder: Path) -> None:
    """A Hugging Face tokenizer's files (vocabulary, settings), which open_clip reads from a
    `local-dir:` model's folder; open_clip's own CLIP tokenizer ships with open_clip."""
    hf_tokenizer = getattr(tokenizer, "tokenizer", None)
    if hasattr(hf_tokenizer, "save_pretrained"):
        hf_tokenizer.save_pretrained(str(folder))


def _write_text_tower_config(model, folder: Path) -> None:
    """A transformers text tower's own config (BiomedCLIP's PubMedBERT), so that the bundle
    builds its model without the Hugging Face cache or network (core.export.bundle)."""
    config = getattr(getattr(model, "text", None), "config", None)
    if hasattr(config, "save_pretrained"):
        (folder / TEXT_TOWER_DIR).mkdir()
        config.save_pretrained(str(folder / TEXT_TOWER_DIR))


def _default_check_images(blended: BlendedRun) -> list[Path]:
    from core.data.folders import load_run_datasets

    config = blended.info["config"]
    try:
        data = load_run_datasets(config, with_ood=False)
    except FlypError:
        return []
    samples = data.val or data.train
    step = max(1, len(samples) // VERIFY_IMAGES)
    return [s.path for s in samples[::step][:VERIFY_IMAGES]]


def verify_bundle(blended: BlendedRun, folder: Path, images: list[Path], onnx: bool = False, novelty=None) -> dict:
    """Reload `folder` and compare its class probabilities (and novelty scores, with `novelty`,
    the score in memory) with the model in memory; the ONNX graph's calibrated `probabilities`
    too, against softmax(logits / (T·g)) with the T the reloaded flyp.json gives predictions and the
    novelty score's factor g (above 1 for unusual images, `core.trust.lowering`), as the bundle gives them."""
    if not images:
        raise FlypError("no images to verify the export with (the run's image folders are gone?)")
    bundle = load_bundle(folder)
    pixels = bundle.images(images)
    features = blended.classifier.features(pixels)
    expected = blended.classifier.logits_from_features(features)
    got = bundle.logits(pixels)
    diff = float((expected.softmax(-1) - got.softmax(-1)).abs().max())
    same = bool((expected.argmax(-1) == got.argmax(-1)).all())
    report = {"verified_images": len(images), "max_probability_difference": diff, "same_predictions": same}
    lowered = as_predicted(expected.float().cpu(), features.float().cpu(), bundle.temperature, novelty).softmax(-1)
    report["max_lowered_difference"] = _off_edges_difference(bundle.probabilities(pixels), lowered, novelty, features,
                                                             expected)
    diff = max(diff, report["max_lowered_difference"])
    outputs = None
    if onnx:
        from core.export.onnx_model import onnx_outputs

        outputs = onnx_outputs(folder / ONNX_FILE, bundle.normalize(pixels))
        onnx_diff = float((outputs["logits"].softmax(-1) - got.softmax(-1)).abs().max())
        report["onnx_max_calibrated_difference"] = _off_edges_difference(outputs["probabilities"], lowered, novelty,
                                                                         features, expected)
        report["onnx_max_probability_difference"] = onnx_diff
        diff = max(diff, onnx_diff, report["onnx_max_calibrated_difference"])
    if not same or diff > TOLERANCE:
        raise FlypError(f"the exported bundle does not reproduce the model (max probability difference {diff:.2g}); "
                        "nothing was written")
    if novelty is not None:
        from core.trust.check import verify_novelty

        report |= verify_novelty(novelty, folder, bundle, pixels, features, expected, outputs)
    return report


def _off_edges_difference(got, want, novelty, features, logits) -> float:
    """The largest difference of two N×C probabilities, over the images whose novelty tail is clear
    of every band edge of the lowering: a check image is a validation image, whose tail a rounding
    of its score may move by one image, and so across an edge into the next band's factor."""
    if novelty is None or novelty.lowering is None:
        return float((got - want).abs().max())
    tail = novelty.tail(novelty.score(features.float().cpu(), logits.float().cpu()))
    margin = 1.5 / max(1, len(novelty.validation))
    clear = torch.stack([(tail - edge).abs() > margin for edge in novelty.lowering.edges]).all(0)
    return float((got - want)[clear].abs().max()) if bool(clear.any()) else 0.0


def _replace_folder(staging: Path, out: Path) -> None:
    """Move the verified bundle into place; an older bundle at `out` is replaced only then."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
    try:
        staging.rename(out)
    except OSError:
        if old is not None:
            old.rename(out)  # put the previous bundle back
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)

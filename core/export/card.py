"""A bundle's model card (README.md): a Hugging Face metadata header and how to use the model.

The YAML header says `library_name: open_clip`, the base model and its licence (from the base
model's own card when it is in the Hugging Face cache), tags and the accuracy at export, so
that a bundle uploaded with `hf upload` is listed and loads as `hf-hub:ORG/NAME`. The Python
sample loads the model with plain open_clip, applies the class head and prints the top class.
"""

from __future__ import annotations

import json

from core.model import hub

TAGS = ("clip", "open_clip", "image-classification", "flyp", "flyp-studio")
SET_NAMES = {"id": "validation", "test": "test"}  # other sets are folders of different conditions, by their names
ROW_NOTES = {"id": " (settings and α chosen on it)", "test": " (held out from every choice: the figure to quote)"}

SAMPLE = '''\
import json
import sys
from pathlib import Path

import open_clip
import torch
from PIL import Image
from safetensors.torch import load_file

# This bundle's folder. From the Hub: folder = Path(huggingface_hub.snapshot_download("ORG/NAME")),
# or load the model itself with open_clip.create_model_and_transforms("hf-hub:ORG/NAME").
folder = Path(".")
model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{folder}")
model.eval()
head = load_file(str(folder / "class_head.safetensors"))  # weight (classes × features), bias, scale
info = json.loads((folder / "flyp.json").read_text())
classes = info["class_names"]
temperature = (info.get("calibration") or {}).get("temperature", 1.0)  # fitted on validation: honest confidence

image = preprocess(Image.open(sys.argv[1]).convert("RGB")).unsqueeze(0)
with torch.no_grad():
    features = torch.nn.functional.normalize(model.encode_image(image), dim=-1)
    logits = head["scale"] * features @ head["weight"].T + head["bias"]
    probabilities = (logits / temperature).softmax(dim=-1)[0]
best = int(probabilities.argmax())
print(f"{classes[best]}\\t{float(probabilities[best]):.3f}")
'''


def model_card(flyp: dict) -> str:
    """The README.md of a bundle described by its flyp.json content."""
    spec = flyp["model"]
    base, licence = base_model(spec.get("name", ""), spec.get("pretrained"))
    names = ", ".join(flyp["class_names"][:20]) + (" …" if len(flyp["class_names"]) > 20 else "")
    lines = [
        *header(flyp, base, licence),
        f"# Image classifier — {len(flyp['class_names'])} classes",
        "",
        f"Finetuned with FLYP Studio {flyp['provenance']['flyp_studio']} ({flyp['method']}) from "
        f"`{spec['name']}`{' (' + spec['pretrained'] + ')' if spec.get('pretrained') else ''}, "
        f"weight-ensembled with the pretrained model at α = {flyp['alpha']:g} "
        "(0 = pretrained zero-shot, 1 = finetuned).",
        "",
        f"**Classes:** {names}",
        "",
        "**Caption templates:** " + "; ".join(f"`{t}`" for t in flyp["templates"][:10]),
        "",
    ]
    lines += levers_note(flyp["provenance"].get("config") or {})
    if licence is None:
        lines += ["**Licence:** the base model's licence applies; see its model card.", ""]
    if flyp["metrics"]:
        lines += ["## Accuracy when exported", "", *_untested(flyp["metrics"]),
                  "| set | accuracy | macro-F1 | images |", "|---|---|---|---|"]
        lines += [f"| {set_name(name)}{ROW_NOTES.get(name, '')} | {m['accuracy']:.1%} | {m['macro_f1']:.3f} | {m['n']} |" for name, m in flyp["metrics"].items()]
        lines.append("")
    lines += novelty_lines(flyp.get("novelty")) + calibration_lines(flyp.get("calibration"))
    lines += [
        "## Use", "",
        "With FLYP Studio:", "",
        "```", "flyp predict THIS_FOLDER image.jpg --top-k 3", "```", "",
        "In Python with plain open_clip (`python classify.py image.jpg`, run in this folder): the model "
        "gives image features, the class head in `class_head.safetensors` turns them into classes. It "
        "prints the confidence of a typical image: FLYP Studio and `model.onnx` are less sure of an unusual "
        "one (by the novelty score, `novelty.lowering` in flyp.json).", "",
        "```python", SAMPLE.rstrip("\n"), "```", "",
        "The model was exported and then reloaded and compared with the model in memory.", "",
    ]
    return "\n".join(lines)


def novelty_lines(novelty: dict | None) -> list[str]:
    """The card's paragraph on "none of these classes": the score, its threshold, what it keeps."""
    if not novelty:
        return []
    return ["## None of these classes", "",
            f"Each prediction also gets a novelty score ({novelty['method'].replace('_', ' ')} distance of the "
            f"image's features to the training images of each class, `novelty.safetensors`); above "
            f"{novelty['threshold']:.4g} the image is like none of the classes (`known: false`). The threshold "
            f"keeps {novelty['keep']:.0%} of the validation images. `model.onnx`, when present, outputs "
            "`novelty` and `known` too.", ""]


def calibration_lines(calibration: dict | None) -> list[str]:
    """The card's tables of how far each set's confidence can be trusted (calibration error, the
    share the novelty threshold keeps) and of its coverage at a few minimum confidences."""
    if not calibration:
        return []
    lines = ["## How far the confidence can be trusted", "",
             f"Temperature {calibration['temperature']:.3g}, fitted on the validation images only"
             + (" (every validation image was right, so the confidence is left as the model gives it)"
                if calibration.get("temperature_fit") == "no validation errors" else "")
             + ": the confidences FLYP Studio gives, and `model.onnx`'s `probabilities`, are softmax(logits / "
             "temperature) for typical images. Calibration error (ECE, 15 bins: the mean gap between confidence "
             "and accuracy; "
             "0 is honest); *with novelty*: the error of the confidence predictions give, once they are less "
             "sure of unusual images (softmax(logits / (temperature × factor)), the factor growing with the "
             "novelty score, fitted on the validation images: flyp.json's `novelty.lowering`); *known*: the share "
             "of the set's images the novelty threshold keeps as one of the classes:", "",
             "| set | accuracy | mean confidence | calibration error | after temperature | with novelty | known |",
             "|---|---|---|---|---|---|---|"]
    for name, s in calibration["sets"].items():
        novelty, known = s.get("calibration_error_with_novelty"), s.get("known")
        lines.append(f"| {set_name(name)} | {s['accuracy']:.1%} | {s['mean_confidence']:.2f} | "
                     f"{s['calibration_error']:.3f} | {s['calibration_error_calibrated']:.3f} | "
                     f"{'' if novelty is None else f'{novelty:.3f}'} | {'' if known is None else f'{known:.1%}'} |")
    return [*lines, "", *coverage_lines(calibration["sets"])]


def coverage_lines(sets: dict) -> list[str]:
    """Per set, the share of images at least as sure as each minimum confidence and their accuracy
    (`flyp predict --min-confidence` sends the others to `_uncertain/`)."""
    def shown(s: dict) -> list:  # as the bundle predicts: less sure of unusual images where it can say
        return s.get("coverage_with_novelty") or s.get("coverage", ())

    thresholds = sorted({r["threshold"] for s in sets.values() for r in shown(s)})
    if not thresholds:
        return []
    lines = ["Coverage: the images at least as sure as each minimum confidence, calibrated and lowered for "
             "unusual images where the bundle has a novelty score, as it predicts (`flyp predict "
             "--sort-into --min-confidence`; the others go to `_uncertain/`), and how many of them are right:", "",
             "| set | " + " | ".join(f"≥ {t:.0%}: kept, right" for t in thresholds) + " |",
             "|---|" + "---|" * len(thresholds)]
    for name, s in sets.items():
        rows = {round(r["threshold"], 6): r for r in shown(s)}
        cells = [(f"{r['coverage']:.0%}, " + (f"{r['accuracy']:.1%}" if r["accuracy"] is not None else "—"))
                 if (r := rows.get(round(t, 6))) else "" for t in thresholds]
        lines.append(f"| {set_name(name)} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def levers_note(config: dict) -> list[str]:
    """What the card says of the speed levers the run used (nothing for full FLYP): they change
    how much of the towers training computed, never the loss."""
    from core.training.levers import describe, used

    levers = describe(used(config))
    if not levers:
        return []
    return ["**Trained faster:** " + "; ".join(levers) + ". The loss was FLYP's own (the same captions).", ""]


def header(flyp: dict, base: str | None, licence: str | None) -> list[str]:
    """The YAML metadata block the Hugging Face Hub reads (values written as JSON, which is YAML)."""
    q = json.dumps
    lines = ["---", "library_name: open_clip", "pipeline_tag: image-classification"]
    lines += [f"license: {licence}"] if licence else ["license: other", "license_name: same-as-base-model"]
    if base:
        lines.append(f"base_model: {q(base)}")
    lines += ["tags:", *(f"- {tag}" for tag in TAGS)]
    if flyp["metrics"]:
        lines += ["model-index:", f"- name: {q(flyp.get('name') or 'flyp-classifier')}", "  results:"]
        for name, m in flyp["metrics"].items():
            lines += ["  - task:", "      type: image-classification",
                      "    dataset:", f"      name: {q(set_name(name))}", "      type: imagefolder",
                      "    metrics:", "    - type: accuracy", f"      value: {float(m['accuracy']):.4f}",
                      "    - type: f1", "      name: macro-F1", f"      value: {float(m['macro_f1']):.4f}"]
    return [*lines, "---", ""]


def _untested(metrics: dict) -> list[str]:
    """A line for a model measured before test sets (or without one): its figures are validation's."""
    if "test" in metrics:
        return []
    return ["Measured before a test split: validation chose the settings and α, so its figure is "
            "optimistic. Train with a test set for a figure to quote.", ""]


def set_name(name: str) -> str:
    """An evaluation set as the card's metrics name it: validation, or a folder of different conditions."""
    return SET_NAMES.get(name) or f"{name} (different conditions)"


def base_model(name: str, pretrained: str | None) -> tuple[str | None, str | None]:
    """(Hub id of the base model, its licence) where they can be known; None where not."""
    if name == "demo":
        return None, "mit"  # the demo model is FLYP Studio's own
    model_id = None
    if hub.is_hub_name(name):
        model_id = name.removeprefix(hub.PREFIX)
    elif pretrained:
        import open_clip

        model_id = (open_clip.get_pretrained_cfg(name, pretrained) or {}).get("hf_hub", "").strip("/") or None
        if model_id and model_id.count("/") > 1:
            model_id = "/".join(model_id.split("/")[:2])
    return model_id, (cached_licence(model_id) if model_id else None)


def cached_licence(model_id: str) -> str | None:
    """The `license:` of a model's own card, when that card is in the Hugging Face cache."""
    card = hub.cached(model_id, "README.md")
    if card is None:
        return None
    try:
        from huggingface_hub import ModelCard

        licence = ModelCard.load(card).data.license
    except Exception:  # an unreadable card only means the licence is not known
        return None
    return licence if isinstance(licence, str) and licence != "other" else None

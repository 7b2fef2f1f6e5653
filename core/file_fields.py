"""Checking the fields of the files the program reads back (a run's run.json, a bundle's
flyp.json, a project file): each field's type and range, else one FlypError naming the file and
the field. A file edited by hand, damaged, or written by a hostile party is refused here, never
trusted into a TypeError, an IndexError, NaN predictions or a 200,000-pixel resize later."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

from core.errors import FlypError, first_line

MAX_JSON_BYTES = 64 << 20  # no settings file of ours comes near; a bigger one is not ours
MAX_IMAGE_SIDE = 4096      # a model's input size: beyond it a resize alone takes gigabytes
INTERPOLATIONS = ("bicubic", "bilinear", "nearest", "lanczos", "box", "hamming")
MAX_NAME = 1000            # characters in a class name or a caption template
MAX_PATH = 4096            # characters in a model's name ("local-dir:PATH" holds a path)
MAX_STEP = 1 << 53         # a step number: JSON's whole numbers stay exact up to here


def read_json(file: Path, fix: str) -> Any:
    """A JSON file's content; FlypError (ending with `fix`) when it is unreadable, too large,
    not JSON or nested too deep to parse."""
    try:
        with open(file, "rb") as f:
            raw = f.read(MAX_JSON_BYTES + 1)
        if len(raw) > MAX_JSON_BYTES:
            raise FlypError(f"{file}: too large for a settings file (more than {MAX_JSON_BYTES >> 20} MiB); {fix}")
        return json.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise FlypError(f"{file}: no such file") from None
    except (OSError, ValueError) as exc:  # ValueError: JSONDecodeError, UnicodeDecodeError
        raise FlypError(f"{file}: damaged, cannot be read ({first_line(exc)}); {fix}") from None
    except RecursionError:
        raise FlypError(f"{file}: damaged (nested too deep to read); {fix}") from None


class Fields:
    """Checks on one file's fields: `need(name, value, ok, words)` raises FlypError
    "FILE: field 'NAME' should be WORDS, not VALUE; FIX" when `ok(value)` is false."""

    def __init__(self, file: Path | str, fix: str):
        self.file, self.fix = file, fix

    def need(self, name: str, value: Any, ok: Callable[[Any], bool], words: str) -> Any:
        try:
            fine = bool(ok(value))
        except (TypeError, ValueError, KeyError, IndexError, AttributeError):
            fine = False
        if not fine:
            raise FlypError(f"{self.file}: field {name!r} should be {words}, not {brief(value)}; {self.fix}")
        return value

    def preprocess(self, name: str, pre: Any) -> dict:
        """A model's preprocessing: size (a side, or [height, width]), mean and std (three finite
        numbers, std above 0), interpolation (one of INTERPOLATIONS, when given)."""
        self.need(name, pre, lambda v: isinstance(v, dict), "an object with size, mean and std")
        size = pre.get("size")
        self.need(f"{name}.size", size, lambda v: all(is_whole(s, 8, MAX_IMAGE_SIDE) for s in
                                                      (v if isinstance(v, list) and 1 <= len(v) <= 2 else [v])),
                  f"an image side from 8 to {MAX_IMAGE_SIDE} pixels (or [height, width])")
        self.need(f"{name}.mean", pre.get("mean"), lambda v: numbers(v, 3, -10, 10), "three finite numbers")
        self.need(f"{name}.std", pre.get("std"), lambda v: numbers(v, 3, 1e-6, 10), "three numbers above 0")
        if "interpolation" in pre:
            self.need(f"{name}.interpolation", pre["interpolation"], lambda v: v in INTERPOLATIONS,
                      f"one of {', '.join(INTERPOLATIONS)}")
        return pre

    def model_config(self, name: str, cfg: Any) -> dict:
        """An open_clip model config: embed_dim, and in it and its towers (vision_cfg, text_cfg,
        multimodal_cfg) the sizes (whole numbers in range), layers (a number, or a list for a
        ResNet), image_size (a side or [height, width]), names (texts) and flags (true or false)
        where given; other keys, which open_clip adds over its versions, pass as they are."""
        self.need(name, cfg, lambda v: isinstance(v, dict), "the model's config (an object)")
        self.need(f"{name}.embed_dim", cfg.get("embed_dim"), lambda v: is_whole(v, 1, MAX_WIDTH),
                  f"the embedding width (a whole number from 1 to {MAX_WIDTH})")
        for tower in ("", *TOWERS):
            part, where = (cfg, name) if not tower else (cfg.get(tower), f"{name}.{tower}")
            if tower and tower not in cfg:
                continue
            self.need(where, part, lambda v: isinstance(v, dict), "an object (the tower's config)")
            for key, (ok, words) in MODEL_CFG_PARTS.items():
                if key in part:
                    self.need(f"{where}.{key}", part[key], ok, words)
        return cfg

    def names(self, name: str, value: Any, unique: bool = True) -> list[str]:
        """A non-empty list of texts (class names, folders), each of 1 to MAX_NAME characters (any
        characters: a folder made from one is made safe where it is made)."""
        self.need(name, value, lambda v: isinstance(v, list) and v and all(
            isinstance(s, str) and s.strip() and len(s) <= MAX_NAME for s in v),
            f"a list of names (texts of 1 to {MAX_NAME} characters)")
        if unique:
            self.need(name, value, lambda v: len(set(v)) == len(v), "a list of different names")
        return value


def is_whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def is_number(value: Any, low: float = -math.inf, high: float = math.inf) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and low <= value <= high)


def numbers(value: Any, n: int, low: float, high: float) -> bool:
    return isinstance(value, list) and len(value) == n and all(is_number(v, low, high) for v in value)


MAX_WIDTH = 1 << 20   # a model's widths, heads, vocabulary, context: no CLIP comes near
TOWERS = ("vision_cfg", "text_cfg", "multimodal_cfg")


def _side(v: Any) -> bool:
    return is_whole(v, 8, MAX_IMAGE_SIDE) or (isinstance(v, list) and len(v) == 2
                                               and all(is_whole(s, 8, MAX_IMAGE_SIDE) for s in v))


def _text(v: Any) -> bool:
    return v is None or (isinstance(v, str) and len(v) <= MAX_NAME)


_SIZE = (lambda v: is_whole(v, 1, MAX_WIDTH), f"a whole number from 1 to {MAX_WIDTH}")
_NAME = (_text, f"a name (a text of at most {MAX_NAME} characters, or null)")
_FLAG = (lambda v: isinstance(v, bool), "true or false")
# The parts of an open_clip config checked where given (`Fields.model_config`).
MODEL_CFG_PARTS: dict[str, tuple[Callable[[Any], bool], str]] = {
    **{key: _SIZE for key in ("width", "heads", "head_width", "context_length", "vocab_size", "output_dim",
                              "attn_pooler_heads")},
    "patch_size": (lambda v: v is None or is_whole(v, 1, MAX_IMAGE_SIDE),
                   f"a whole number from 1 to {MAX_IMAGE_SIDE} (or null, for a ResNet)"),
    "layers": (lambda v: is_whole(v, 1, 1000) or (isinstance(v, list) and 1 <= len(v) <= 16
                                                  and all(is_whole(n, 1, 1000) for n in v)),
               "a number of layers from 1 to 1000 (or a list of them, for a ResNet)"),
    "image_size": (_side, f"an image side from 8 to {MAX_IMAGE_SIDE} pixels (or [height, width])"),
    "mlp_ratio": (lambda v: is_number(v, 0.01, 100), "a number from 0.01 to 100"),
    **{key: _NAME for key in ("hf_model_name", "hf_tokenizer_name", "hf_pooler_type", "hf_proj_type",
                              "timm_model_name", "timm_pool", "timm_proj", "pool_type")},
    **{key: _FLAG for key in ("quick_gelu", "custom_text", "timm_model_pretrained", "output_tokens",
                              "attentional_pool", "embed_cls", "no_causal_mask", "proj_bias")},
}


def brief(value: Any) -> str:
    """A value for a message: short, one line."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def check_run_info(info: dict, file: Path) -> dict:
    """run.json's fields, checked (see the module's docstring): the classes, their names, the
    templates, the model (spec, config, preprocessing) and the settings the run was trained with."""
    from core.training.config import check_settings

    fields = Fields(file, "the file is left as it is")
    classes = fields.names("classes", info.get("classes"))
    fields.names("class_names", info.get("class_names"), unique=False)
    fields.need("class_names", info["class_names"], lambda v: len(v) == len(classes),
                f"one name for each of the {len(classes)} classes")
    fields.need("templates", info.get("templates"), lambda v: isinstance(v, list) and v and all(
        isinstance(t, str) and "{}" in t and len(t) <= MAX_NAME for t in v), "a list of caption templates with {}")
    fields.need("status", info.get("status"), lambda v: isinstance(v, str), "a run's status (text)")
    model = fields.need("model", info.get("model"), lambda v: isinstance(v, dict), "an object")
    spec = fields.need("model.spec", model.get("spec"), lambda v: isinstance(v, dict) and isinstance(v.get("name"), str)
                       and isinstance(v.get("pretrained"), (str, type(None))) and set(v) <= {"name", "pretrained"},
                       "an object with the model's name and pretrained weights")
    fields.need("model.spec.name", spec["name"], lambda v: v.strip(), "a model name")
    if "model_cfg" in model or spec["name"] != "demo":
        fields.model_config("model.model_cfg", model.get("model_cfg"))
    fields.need("model.open_clip_name", model.get("open_clip_name"), lambda v: isinstance(v, str) and v.strip()
                and len(v) <= MAX_PATH, f"what open_clip calls the model (a text of 1 to {MAX_PATH} characters)")
    fields.preprocess("model.preprocess", model.get("preprocess"))
    config = fields.need("config", info.get("config"), lambda v: isinstance(v, dict), "the run's settings")
    if config.get("method") == "soup" and isinstance(info.get("soup"), dict):
        config = {k: v for k, v in config.items() if k != "method"}  # a soup (core.weights.soups): no method trained it
    try:
        check_settings(config, f"{file} (field 'config')")
    except FlypError as exc:
        raise FlypError(f"{exc}; the file is left as it is") from None
    for key in ("best", "zeroshot"):
        if info.get(key) is not None:
            fields.need(key, info[key], lambda v: isinstance(v, dict), "an object (or null)")
    if info.get("best") is not None:
        best = info["best"]
        fields.need("best.step", best.get("step"), lambda v: is_whole(v, 0, MAX_STEP),
                    "the step of the best checkpoint (a whole number from 0)")
        fields.need("best.id_accuracy", best.get("id_accuracy"), lambda v: is_number(v, 0, 1),
                    "the validation accuracy there (a number from 0 to 1)")
        if "score" in best:
            fields.need("best.score", best["score"], lambda v: is_number(v, 0, 1), "a number from 0 to 1")
    return info

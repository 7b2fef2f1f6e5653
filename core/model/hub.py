"""Models published on the Hugging Face Hub as open_clip models (`hf-hub:ORG/NAME`).

Their files come from the Hugging Face cache (`HF_HUB_CACHE`, else `HF_HOME`/hub, else
~/.cache/huggingface/hub, read when called, not when imported); with network they are
downloaded into it with huggingface_hub's own progress bars (or the caller's progress and
cancel callables); without, the error names this computer's cache folder and what to copy into it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

from core.errors import Cancelled, FlypError, first_line
from core.progress import Progress, no_cancel

PREFIX = "hf-hub:"
CONFIG = "open_clip_config.json"
WEIGHTS = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")  # open_clip's order
HF_EXTRA = "pip install 'flyp-studio[hf]'"

# A short list for the model pickers: domain CLIPs published in open_clip's format, with what
# they were trained for. Any other `hf-hub:` name works too.
DOMAIN_MODELS = {
    "hf-hub:imageomics/bioclip": "BioCLIP — organisms across the tree of life (species, genus, family), "
                                 "trained on TreeOfLife-10M",
    "hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224":
        "BiomedCLIP — biomedical images (radiology, microscopy, pathology) from PubMed figures; needs the hf extra",
    "hf-hub:wisdomik/QuiltNet-B-32": "QuiltNet — histopathology slides, trained on Quilt-1M",
    "hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K": "LAION CLIP ViT-B/32 — everyday photos from the web, "
                                                    "a general starting point",
}


def is_hub_name(name: str) -> bool:
    return name.startswith(PREFIX)


def repo_id(name: str) -> str:
    """ORG/NAME of an `hf-hub:ORG/NAME` model name; FlypError if it is not one."""
    model_id = name.removeprefix(PREFIX).strip()
    parts = model_id.split("/")
    if len(parts) != 2 or not all(parts) or any(c.isspace() for c in model_id):
        raise FlypError(f"«model» {name!r}: a Hub model is named hf-hub:ORG/NAME, e.g. hf-hub:imageomics/bioclip")
    return model_id


def cache_dir() -> Path:
    """The Hugging Face cache folder, as huggingface_hub would choose it from the environment now."""
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(home).expanduser() / "hub"


def offline() -> bool:
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes", "on")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def cached(model_id: str, filename: str) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    hit = try_to_load_from_cache(model_id, filename, cache_dir=str(cache_dir()))
    return Path(hit) if isinstance(hit, str) else None


def fetch(name: str, *, progress: Progress | None = None, cancel: Callable[[], bool] = no_cancel,
          reachable: Callable[[], bool] | None = None) -> tuple[dict, Path]:
    """(open_clip_config.json's content, weights file) of `hf-hub:ORG/NAME`, from the cache or
    downloaded into it. `reachable()` says whether the Hub answers (asked only when something is
    missing); without it, the error says what to copy where."""
    model_id = repo_id(name)
    config_file = cached(model_id, CONFIG)
    weights = next((hit for hit in (cached(model_id, f) for f in WEIGHTS) if hit), None)
    if config_file is None or weights is None:
        if offline() or (reachable is not None and not reachable()):
            raise missing_error(name, model_id, why_not_downloaded())
        config_file = download(model_id, CONFIG, progress, cancel)
        weights = download_weights(model_id, progress, cancel)
        download_card(model_id, cancel)
    config = read_config(config_file, name)
    text_tower = config["model_cfg"].get("text_cfg", {}).get("hf_model_name")
    if text_tower:
        check_text_tower(name, text_tower, reachable)
    return config, weights


def read_config(path: Path, name: str) -> dict:
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FlypError(f"«model» {name}: its {CONFIG} in the Hugging Face cache ({path}) is unreadable ({exc}); "
                        "delete it and download the model again") from None
    if not isinstance(config, dict) or not isinstance(config.get("model_cfg"), dict):
        raise FlypError(f"«model» {name}: {path} has no model_cfg; it is not an open_clip model "
                        "(open_clip publishes its models with an open_clip_config.json)")
    return config


def check_text_tower(name: str, text_tower: str, reachable: Callable[[], bool] | None) -> None:
    """A text tower from `transformers` (BiomedCLIP's PubMedBERT) needs that package, and its own
    config and tokenizer in the cache when there is no network."""
    try:
        import transformers  # noqa: F401
    except ImportError:
        raise FlypError(f"«model» {name}: its text tower ({text_tower}) comes from Hugging Face transformers, "
                        f"which is not installed; install the hf extra: {HF_EXTRA}") from None
    if cached(text_tower, "config.json") is None and (offline() or (reachable is not None and not reachable())):
        raise missing_error(name, text_tower, why_not_downloaded(), what=f"the files of its text tower {text_tower} are")


def why_not_downloaded() -> str:
    return "«offline_mode» is on" if offline() else "the Hugging Face Hub cannot be reached"


def model_folder(model_id: str) -> str:
    """The cache's folder for one model: models--ORG--NAME."""
    return "models--" + model_id.replace("/", "--")


def missing_error(name: str, model_id: str, reason: str, what: str = "its files are", other_way: str = "") -> FlypError:
    """What to copy where when a model is not in the cache and cannot be downloaded (the cache
    folder named as it is on this computer, HF_HUB_CACHE and HF_HOME respected)."""
    cache, folder = cache_dir(), model_folder(model_id)
    return FlypError(
        f"«model» {name}: {what} not in this computer's Hugging Face cache ({cache}) and {reason}; on a computer "
        f"with internet, load the model once (in FLYP Studio, or with `hf download {model_id}`), then copy the "
        f"folder {folder} from that computer's Hugging Face cache to {cache / folder} here{other_way}")


def download_card(model_id: str, cancel: Callable[[], bool]) -> None:
    """The model's own card (README.md), for its licence in an exported bundle's card; a model
    without one is no problem."""
    try:
        download(model_id, "README.md", lambda done, total: None, cancel)
    except Cancelled:
        raise
    except Exception:  # EntryNotFoundError, a network hiccup: the card only tells the licence
        return


def download_weights(model_id: str, progress: Progress | None, cancel: Callable[[], bool]) -> Path:
    from huggingface_hub.errors import EntryNotFoundError

    for filename in WEIGHTS:
        try:
            return download(model_id, filename, progress, cancel)
        except EntryNotFoundError:
            continue
    raise FlypError(f"«model» hf-hub:{model_id}: the repository has no open_clip weights "
                    f"({' or '.join(WEIGHTS)}); it is not an open_clip model")


def download(model_id: str, filename: str, progress: Progress | None, cancel: Callable[[], bool]) -> Path:
    """One file into the cache with huggingface_hub; progress goes to `progress` (bytes done,
    total) when given, else to huggingface_hub's own bar; `cancel()` stops it between chunks."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

    try:
        return Path(hf_hub_download(model_id, filename, cache_dir=str(cache_dir()),
                                    tqdm_class=progress_bar(progress, cancel)))
    except (Cancelled, EntryNotFoundError):
        raise
    except RepositoryNotFoundError:
        raise FlypError(f"«model» hf-hub:{model_id}: no such model on the Hugging Face Hub "
                        "(or it is private: log in with `hf auth login`)") from None
    except Exception as exc:
        raise FlypError(f"«model» hf-hub:{model_id}: downloading {filename} failed ({first_line(exc)})") from None


def progress_bar(progress: Progress | None, cancel: Callable[[], bool]):
    """A tqdm class for huggingface_hub that reports to `progress` and raises Cancelled when
    `cancel()` turns true; it draws its own bar when there is no `progress` (the command line)."""
    from huggingface_hub.utils import tqdm

    class Bar(tqdm):
        def __init__(self, *args, **kwargs):
            if progress is not None:
                kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self.done = 0

        def update(self, n=1):
            if cancel():
                raise Cancelled()
            self.done += n or 0
            if progress is not None:
                progress(self.done, int(self.total or 0))
            return super().update(n)

    return Bar

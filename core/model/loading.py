"""Models: the embedded demo, any open_clip architecture + pretrained tag or a local file,
a Hugging Face Hub model (`hf-hub:ORG/NAME`, core.model.hub) or a folder (`local-dir:PATH`).

`load_model` returns the CLIP model with its tokenizer and preprocessing; the weights come
from the Hugging Face cache first, and without network it fails at once with words that say
how to get them. User files are never unpickled: safetensors, or `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import ssl
import threading
import warnings
import urllib.parse
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import open_clip
import torch

from core.errors import FlypError, first_line
from core.model import hub
from core.progress import Progress, no_cancel
from core.resources import resource_path

DEMO = "demo"
RANDOM = "none"  # `--pretrained none`: random initialisation, for tests and benchmarks
NETWORK_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class ModelSpec:
    """Which model: an open_clip architecture (or "demo") and where its weights come from.

    `pretrained` is an open_clip tag (`openai`, `laion2b_s34b_b79k`), a local weights file,
    "none" for random weights, or None for the demo model, `hf-hub:` and `local-dir:` models.
    """

    name: str
    pretrained: str | None = None

    def to_json(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return self.name if self.pretrained is None else f"{self.name} ({self.pretrained})"


@dataclass
class LoadedModel:
    """A CLIP model ready to use, with what is needed to feed it."""

    model: torch.nn.Module
    tokenizer: Any
    preprocess: dict  # size, mean, std, interpolation, resize_mode (open_clip's PreprocessCfg)
    spec: ModelSpec
    open_clip_name: str  # what open_clip calls it: an architecture, "hf-hub:ORG/NAME" or "local-dir:PATH"
    model_cfg: dict
    seed: int | None = None  # what random weights were drawn with: with `spec`, names the weights as loaded

    @property
    def weights_key(self) -> tuple:
        """Names the weights `load_model` gave (spec and seed): what is computed from them, such as
        an evaluation set's image features, is the same for every model loaded so (`Classifier.evaluate`)."""
        return (self.spec.name, self.spec.pretrained, self.seed, str(next(self.model.parameters()).device))

    @property
    def image_size(self) -> int:
        size = self.preprocess["size"]
        return size if isinstance(size, int) else size[0]


@lru_cache(maxsize=1)
def _register_configs() -> None:
    open_clip.add_model_config(resource_path("model_configs"))


def demo_model_dir() -> Path:
    return resource_path("models", "demo")


def torch_versions() -> list[tuple[str, str]]:
    """(name, version) rows of PyTorch and the CUDA it runs on, for an About box."""
    cuda = torch.version.cuda if torch.cuda.is_available() else f"not available (built for {torch.version.cuda})" \
        if torch.version.cuda else "not available"
    return [("PyTorch", torch.__version__), ("CUDA", cuda)]


def select_device(preference: str = "auto") -> torch.device:
    """`auto` picks CUDA, then Apple's MPS, then the CPU; an unavailable choice is an error."""
    from core.training.config import valid_device

    preference = "auto" if preference is None else str(preference).lower()
    if not valid_device(preference):  # '' too: an empty choice is a mistake, not "auto"
        raise FlypError(f"«device» {preference!r}: expected auto, cpu, cuda, cuda:N or mps")
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if preference == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if preference.startswith("cuda") and not cuda:
        raise FlypError(f"«device» {preference}: no CUDA GPU is available to PyTorch here (use auto or cpu)")
    if preference == "mps" and not mps:
        raise FlypError("«device» mps: Apple's MPS is not available here (use auto or cpu)")
    try:
        return torch.device(preference)
    except RuntimeError:
        raise FlypError(f"«device» {preference!r}: expected auto, cpu, cuda, cuda:N or mps") from None


def list_architectures() -> list[str]:
    _register_configs()
    return open_clip.list_models()


def pretrained_tags(architecture: str) -> list[str]:
    """The pretrained weight tags open_clip knows for `architecture` (empty if none)."""
    return list(open_clip.list_pretrained_tags_by_model(architecture))


def load_model(spec: ModelSpec, device: torch.device | str = "cpu", *, seed: int = 0,
               progress: Progress | None = None, cancel=no_cancel) -> LoadedModel:
    """Create the model of `spec` with its weights. Raises FlypError with the reason and a fix.

    `progress` (bytes done, total) and `cancel` follow a download from the Hugging Face Hub."""
    _register_configs()
    if hub.is_hub_name(spec.name):
        return _load_hub_model(spec, device, seed, progress, cancel)
    name, weights, quick_gelu = _resolve(spec)
    model = _create(spec, name, seed, force_quick_gelu=quick_gelu)
    if weights is not None:
        load_weights(model, weights)
    model.to(device).eval()
    return LoadedModel(
        model=model,
        tokenizer=open_clip.get_tokenizer(name),
        preprocess=dict(open_clip.get_model_preprocess_cfg(model)),
        spec=spec,
        open_clip_name=name,
        model_cfg={**_model_config(name), **({"quick_gelu": True} if quick_gelu else {})},
        seed=seed,
    )


@contextlib.contextmanager
def weights_loaded_later():
    """Around an open_clip model built without its weights, which FLYP loads next: open_clip's
    warning that the model was "initialized randomly" would alarm whoever reads the terminal."""
    muted = logging.root.manager.disable
    logging.disable(max(muted, logging.WARNING))
    try:
        yield
    finally:
        logging.disable(muted)


def _create(spec: ModelSpec, name: str, seed: int, **options) -> torch.nn.Module:
    torch.manual_seed(seed)  # random initialisation (tests, `--pretrained none`) is reproducible
    try:
        with weights_loaded_later():
            model, _, _ = open_clip.create_model_and_transforms(
                name, pretrained=None, device="cpu", weights_only=True, **options)
    except Exception as exc:  # open_clip reports unknown configs as RuntimeError/ValueError
        raise FlypError(f"model {spec.name!r} could not be created: {first_line(exc)}") from None
    return model


def _load_hub_model(spec: ModelSpec, device, seed: int, progress: Progress | None, cancel) -> LoadedModel:
    """An `hf-hub:` model: its files from the Hugging Face cache (downloaded when missing), the
    model made from the snapshot folder, the weights loaded strictly with open_clip's conversions."""
    if spec.pretrained not in (None, "") and spec.pretrained.lower() != RANDOM:
        raise FlypError(f"«pretrained» {spec.pretrained!r} is not used with {spec.name}: "
                        "a Hub model's weights come from the Hub (leave «pretrained» out)")
    endpoint = urllib.parse.urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    config, weights = hub.fetch(spec.name, progress=progress, cancel=cancel, reachable=lambda: _reachable(endpoint))
    # The snapshot folder holds open_clip_config.json; weights are loaded below (strictly), and a
    # transformers text tower is built from its config alone (its weights are in the checkpoint).
    model = _create(spec, f"local-dir:{weights.parent}", seed, load_weights=False, pretrained_text=False)
    if spec.pretrained is None or spec.pretrained.lower() != RANDOM:
        try:
            open_clip.load_checkpoint(model, str(weights), strict=True, weights_only=True)
        except Exception as exc:
            raise FlypError(f"«model» {spec.name}: its weights ({weights}) do not load: {first_line(exc)}; "
                            "delete that file from the cache and download the model again") from None
    model.to(device).eval()
    # open_clip's own tokenizer comes from the snapshot folder with no request to the Hub; a
    # Hugging Face tokenizer (named in the config) from its own repository in the cache.
    own = config["model_cfg"].get("text_cfg", {}).get("hf_tokenizer_name")
    try:
        tokenizer = open_clip.get_tokenizer(spec.name if own else f"local-dir:{weights.parent}",
                                            cache_dir=str(hub.cache_dir()))
    except Exception as exc:
        raise FlypError(f"«model» {spec.name}: its tokenizer could not be loaded from the Hugging Face cache "
                        f"({hub.cache_dir()}): {first_line(exc)}") from None
    return LoadedModel(model=model, tokenizer=tokenizer, preprocess=dict(open_clip.get_model_preprocess_cfg(model)),
                       spec=spec, open_clip_name=spec.name, model_cfg=config["model_cfg"], seed=seed)


def _resolve(spec: ModelSpec) -> tuple[str, Path | None, bool]:
    """(open_clip model name, weights file or None, force QuickGELU) for a spec."""
    if spec.name == DEMO:
        folder = demo_model_dir()
        if not (folder / "open_clip_config.json").is_file():
            raise FlypError(f"the demo model is missing from {folder}; reinstall FLYP Studio or run `flyp demo pretrain`")
        return f"local-dir:{folder}", _demo_weights(spec.pretrained), False  # open_clip finds its own weights
    if spec.name.startswith("local-dir:"):
        folder = Path(spec.name.removeprefix("local-dir:")).expanduser()
        if not (folder / "open_clip_config.json").is_file():
            raise FlypError(f"«model» {spec.name}: " + ("no such folder" if not folder.is_dir() else
                            "the folder has no open_clip_config.json (open_clip's layout: that file and the "
                            "weights, as in an exported bundle)"))
        return f"local-dir:{folder}", None, False
    if spec.name not in list_architectures():
        raise FlypError(f"«model» {spec.name!r} is not an open_clip architecture (see `flyp models`)")
    if spec.pretrained is None:
        tags = open_clip.list_pretrained_tags_by_model(spec.name)
        hint = f"a tag ({', '.join(tags[:6])}{', …' if len(tags) > 6 else ''}), " if tags else ""
        raise FlypError(f"«model» {spec.name} needs «pretrained»: {hint}a weights file, or 'none' for random weights")
    if spec.pretrained.lower() == RANDOM:
        return spec.name, None, False
    path = Path(spec.pretrained).expanduser()
    if path.exists() or os.sep in spec.pretrained or path.suffix in (".safetensors", ".pt", ".pth", ".bin"):
        if not path.is_file():
            raise FlypError(f"«pretrained» {spec.pretrained}: no such file")
        return spec.name, path, False
    return spec.name, cached_or_download(spec.name, spec.pretrained), _wants_quick_gelu(spec)


def _demo_weights(pretrained: str | None) -> Path | None:
    """`--model demo --pretrained FILE` loads FILE into the demo architecture; a tag is refused."""
    if not pretrained:
        return None
    path = Path(pretrained).expanduser()
    if path.is_file():
        return path
    if path.exists() or os.sep in pretrained or path.suffix in (".safetensors", ".pt", ".pth", ".bin"):
        raise FlypError(f"«pretrained» {pretrained}: no such file")
    raise FlypError(f"«pretrained» {pretrained}: the demo model has no pretrained tags; give «weights_file» of "
                    "the demo architecture, or leave «pretrained» out", setting="pretrained",
                    expected="a weights file", found=pretrained)


def _wants_quick_gelu(spec: ModelSpec) -> bool:
    # OpenAI's weights were trained with QuickGELU; open_clip v3 only warns when the plain
    # architecture name is used with them, and then runs with the wrong activation.
    cfg = open_clip.get_pretrained_cfg(spec.name, spec.pretrained) or {}
    return bool(cfg.get("quick_gelu")) and "quickgelu" not in spec.name


def cached_or_download(name: str, tag: str) -> Path:
    """The weights file of `name` + `tag`: from the Hugging Face cache, else downloaded.

    With no network (or HF_HUB_OFFLINE=1) and nothing cached, fail at once and say how to
    provide the weights instead of retrying for a minute.
    """
    cfg = open_clip.get_pretrained_cfg(name, tag)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(name)
        raise FlypError(f"«pretrained» {tag!r} is not a known tag for {name} "
                        f"(known: {', '.join(tags) or 'none'}; or give a weights file)")
    source = cfg.get("hf_hub", "")
    if source:
        model_id, filename = os.path.split(source)
        found = _hub_cache_lookup(model_id, filename or "open_clip_pytorch_model.bin")
        if found:
            return found
    endpoint = urllib.parse.urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    if hub.offline() or not _reachable(endpoint):
        reason = "«offline_mode» is on" if hub.offline() else f"{endpoint.hostname} cannot be reached"
        if source:
            raise hub.missing_error(f"{name} ({tag})", model_id, reason, what="its weights are",
                                    other_way="; or start from «weights_file» instead")
        raise FlypError(f"the weights of {name} ({tag}) are not on this computer and {reason}; download them from "
                        f"{cfg.get('url', 'its download address')} on a computer with internet and start from them as "
                        "«weights_file»")
    try:
        return Path(open_clip.download_pretrained(cfg))
    except Exception as exc:
        raise FlypError(f"downloading the weights of {name} ({tag}) failed: {first_line(exc)}") from None


def _hub_cache_lookup(model_id: str, filename: str) -> Path | None:
    names = [filename]
    if filename.endswith(".bin"):  # open_clip prefers the safetensors twin when it exists
        names.insert(0, filename.replace("open_clip_pytorch_model.bin", "open_clip_model.safetensors"))
    return next(filter(None, (hub.cached(model_id, n) for n in names)), None)


def _reachable(endpoint: urllib.parse.ParseResult) -> bool:
    """Whether the endpoint answers within NETWORK_TIMEOUT_S: a connection, name lookup included,
    and for https a TLS handshake (a proxy or firewall that accepts connections and then drops
    them would otherwise cost a minute of the hub client's retries).

    The socket timeout does not cover the DNS lookup, which can hang for many seconds on a
    machine without network; the attempt runs in a daemon thread that is simply not awaited.
    """
    if not endpoint.hostname:
        return False
    tls = endpoint.scheme != "http"
    try:
        port = endpoint.port or (443 if tls else 80)
    except ValueError:  # a port that is not a number
        return False
    answer: list[bool] = []

    def attempt() -> None:
        try:
            with socket.create_connection((endpoint.hostname, port), timeout=NETWORK_TIMEOUT_S) as conn:
                if tls:  # certificates are the download's business: this only asks whether TLS works at all
                    context = ssl.create_default_context()
                    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
                    context.wrap_socket(conn, server_hostname=endpoint.hostname).close()
            answer.append(True)
        except (OSError, ValueError):  # ssl.SSLError is an OSError
            answer.append(False)
    probe = threading.Thread(target=attempt, daemon=True, name="flyp-network-probe")
    probe.start()
    probe.join(NETWORK_TIMEOUT_S)
    return bool(answer and answer[0])


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a weights file without executing code: safetensors, or a checked torch.load."""
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from core import checksums

            return checksums.read_verified(path)[0]  # DamagedFile when its checksum does not match
        with warnings.catch_warnings():  # torch warns about the pickle protocol before refusing it
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FlypError(f"{path}: no such file") from None
    except FlypError:
        raise
    except Exception as exc:
        text = str(exc)
        if "weights_only" in text or "Unsupported global" in text or "Unpickler" in text:
            raise FlypError(f"{path}: refused: the file holds pickled Python objects, not only tensors "
                            "(it could run code); convert it to .safetensors where it was made") from None
        raise FlypError(f"{path}: not a readable weights file ({first_line(exc)})") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise FlypError(f"{path}: expected a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def load_weights(model: torch.nn.Module, path: str | Path) -> None:
    """Load a weights file into `model` strictly; a mismatch names the file and the keys."""
    state = read_state_dict(path)
    state = {k: v for k, v in state.items() if not k.startswith("flyp_head.")}
    if "logit_scale" in state and state["logit_scale"].ndim != model.logit_scale.ndim:
        state["logit_scale"] = state["logit_scale"].reshape(model.logit_scale.shape)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        missing, unexpected = _key_mismatch(model, state)
        detail = f"missing {missing[:3]}, unexpected {unexpected[:3]}" if missing or unexpected else first_line(exc)
        raise FlypError(f"{path}: weights do not fit this architecture ({detail})") from None


def _key_mismatch(model, state) -> tuple[list[str], list[str]]:
    own = set(model.state_dict())
    return sorted(own - set(state)), sorted(set(state) - own)


def _model_config(name: str) -> dict:
    if name.startswith("local-dir:"):
        import json

        return json.loads((Path(name.removeprefix("local-dir:")) / "open_clip_config.json").read_text())["model_cfg"]
    return open_clip.get_model_config(name)


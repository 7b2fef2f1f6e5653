"""Faster training for big models on a CPU, keeping FLYP's objective: each lever off by default.

The loss stays FLYP's (the contrastive loss over image/caption pairs, the same captions); what
changes is how much of the towers a step computes:

- `patch_dropout` (FLIP, Li et al. 2023): a share of the image patches is left out of each
  training forward pass (open_clip's `PatchDropout` on the image tower); evaluation, which puts
  the model in eval mode, sees every patch. Its random patches are drawn from a generator seeded
  by (seed, step, process), so a resumed run is exact.
- `frozen_blocks`: the lowest N transformer blocks of both towers, and the embeddings below them,
  are frozen: no gradient, no optimiser update, their weights unchanged bit for bit. Captions are
  fixed, so the text tower's frozen part is computed once per caption and cached; the image
  side's input changes with every crop, so it is recomputed each step (without a graph).
- `train_size`: training images at a lower resolution (a multiple of the patch size); the
  positional embedding is interpolated to that grid while training (its gradient flows back to
  the stored one), and evaluation runs at the model's own resolution.
- bf16 arithmetic (`precision`) and `compile` are `core.training.acceleration`'s; `cpu_bf16`
  says whether bf16 pays on this CPU (AMX; elsewhere it is emulated or barely faster).

`used(config)` names the levers a run used, as run.json records them (`"levers"`), the model card
and the app say so; `describe` words them.
"""

from __future__ import annotations

import contextlib
import math
import types

from core.errors import FlypError

# torch is imported where it is used: the automatic mode and the model card read this module's
# tables without loading it.

LEVERS = ("patch_dropout", "frozen_blocks", "train_size", "precision", "compile")
# What the automatic mode turns on on a CPU when its budget allows too few epochs: the levers within
# 1 point of full FLYP's ID accuracy on both the demo and digits in benchmarks/cpu_levers.py (3 seeds,
# benchmarks/README.md), used only where they pay (`pays_here`), and the speed-up each is planned at
# until the first trial measures it. On the demo model patch dropout 0.25 and one frozen block held
# on the demo (+1.0, −1.0 points) but cost 21–24 points on digits, far from its pretraining; bf16
# held on both (2026-12-08, a Xeon with AMX: −0.1 points on the demo, +2.0 on digits, over 3 seeds).
AUTO_LEVERS: dict = {"precision": "bf16"}
# bf16's: a ViT-B/32 FLYP step ran 1.94× faster under bf16 on a 2-core Xeon with AMX, alone
# (benchmarks/bf16_cpu.py, 2026-12-08); planned lower, at 1.5×, as evaluation stays in fp32. The
# first trial's measured speed replaces it anyway.
AUTO_SPEEDUP: dict = {"precision": 1.5}
# The model families a lever does not pay for even where the CPU suits it: the demo model's
# matrices (width 128) are too small for AMX tiles to beat the casts around them — its step 1.04×,
# a whole demo run 0.93× under bf16, on the same Xeon alone (benchmarks/README.md).
TOO_SMALL: dict = {"precision": ("demo",)}
VISION_EMBEDDINGS = ("conv1", "class_embedding", "positional_embedding", "ln_pre")  # below the first block
TEXT_EMBEDDINGS = ("token_embedding", "positional_embedding")


def pays_here(name: str, family: str | None = None) -> bool:
    """Whether lever `name` makes training of a model of `family` (`core.training.defaults.Family.key`)
    faster on this CPU: bf16 only where `cpu_bf16` says so, and for no family in `TOO_SMALL`."""
    if family in TOO_SMALL.get(name, ()):
        return False
    return name != "precision" or cpu_bf16()


def planned_speedup(chosen: dict) -> float:
    """The speed-up the automatic mode plans the levers `chosen` at, until its first trial measures it."""
    return math.prod(AUTO_SPEEDUP[name] for name in chosen)


def used(config: dict) -> dict:
    """{lever: value} of the levers `config` (a TrainConfig's JSON) turns on; {} for full FLYP."""
    on = {"patch_dropout": config.get("patch_dropout", 0.0) > 0, "frozen_blocks": config.get("frozen_blocks", 0) > 0,
          "train_size": config.get("train_size") is not None, "precision": config.get("precision") == "bf16",
          "compile": bool(config.get("compile"))}
    return {name: config[name] for name in LEVERS if on[name]}


def describe(levers: dict) -> list[str]:
    """Each lever of `used()` in words, for the model card and the command line."""
    words = {
        "patch_dropout": lambda v: f"patch dropout while training: {v:.0%} of the image patches left out of each step",
        "frozen_blocks": lambda v: f"the lowest {v} block{'s' * (v > 1)} of both towers frozen",
        "train_size": lambda v: f"trained on {v}-pixel images (evaluated at the model's own size)",
        "precision": lambda v: "quicker, less precise arithmetic (bf16) in the towers while training, "
                              "evaluation in full precision",
        "compile": lambda v: "the towers compiled (torch.compile)",
    }
    return [words[name](value) for name, value in levers.items() if name in words]


def cpu_bf16() -> bool:
    """Whether bf16 arithmetic pays on this CPU: True only where it has AMX (Intel's matrix tiles
    for bf16: Xeon from Sapphire Rapids on), the kernel lets this process use them, and PyTorch's
    oneDNN takes bf16.

    Why AMX alone: the towers' time is in matrix products. oneDNN computes them in bf16 on AMX
    tiles (on a 2-core Xeon with AMX, a ViT-B/32 FLYP step ran 1.94× faster under bf16 autocast,
    benchmarks/README.md). With AVX-512 BF16 but no AMX (Cooper Lake, AMD Zen 4) an instruction
    does at most twice fp32's multiply-adds, before the casts around each product: the same step
    ran at 0.68× with oneDNN capped there. With plain AVX-512 oneDNN emulates bf16 (0.29×), with
    AVX2 PyTorch does: slower than fp32 (10× on the AVX2 build machine). PyTorch's own test,
    `torch.ops.mkldnn._is_mkldnn_bf16_supported()`, is True on any AVX-512 CPU (Skylake
    included): it says where bf16 runs, not where it pays. ARM CPUs with bf16: not measured, False.
    """
    capabilities = _cpu_capabilities()
    return bool(capabilities.get("amx_bf16") and capabilities.get("amx_tile") and capabilities.get("amx_granted")
                and capabilities.get("onednn_bf16"))


def _cpu_capabilities() -> dict:
    """What `cpu_bf16` reads: the CPU's AMX flags, whether Linux granted the AMX state to this
    process (kernel 5.16 on), whether oneDNN runs bf16. Anything torch cannot say is False."""
    import torch

    found = {}
    with contextlib.suppress(AttributeError, RuntimeError):
        flags = torch.cpu.get_capabilities()  # torch 2.8 on
        found = {"amx_bf16": flags.get("amx_bf16", False), "amx_tile": flags.get("amx_tile", False)}
    if not found:  # older torch: the tile flag only (every CPU with AMX tiles so far has AMX-BF16)
        with contextlib.suppress(AttributeError, RuntimeError):
            found = dict.fromkeys(("amx_bf16", "amx_tile"), bool(torch.cpu._is_amx_tile_supported()))
    if found.get("amx_tile"):
        with contextlib.suppress(AttributeError, RuntimeError):
            found["amx_granted"] = bool(torch.cpu._init_amx())  # asks the kernel (arch_prctl) for the tiles
    with contextlib.suppress(AttributeError, RuntimeError):
        found["onednn_bf16"] = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return found


def check(config, model: torch.nn.Module, image_size: int) -> None:
    """Refuse, in words and before anything is written, a lever this model cannot take."""
    from open_clip.transformer import VisionTransformer

    visual = model.visual
    is_vit = isinstance(visual, VisionTransformer)
    if config.patch_dropout > 0 and not is_vit:
        raise FlypError("«patch_dropout»: only a ViT image tower has patches; this model's is not a ViT")
    if config.frozen_blocks:
        towers = [("image", _blocks(visual)), ("text", _blocks(model))]
        for tower, blocks in towers:
            if blocks is None or config.frozen_blocks >= len(blocks):
                have = "has no transformer blocks" if blocks is None else f"has {len(blocks)} blocks"
                raise FlypError(f"«frozen_blocks» {config.frozen_blocks}: the {tower} tower {have}; "
                                "freeze fewer, so that some of each tower trains")
    if config.train_size is not None:
        patch = visual.patch_size[0] if is_vit else None
        if patch is None or config.train_size % patch or config.train_size > image_size:
            need = (f"a multiple of the patch size {patch} up to the model's {image_size} pixels" if patch
                    else "a ViT image tower")
            raise FlypError(f"«train_size» {config.train_size}: needs {need}")


def apply(model: torch.nn.Module, config, tokens: torch.Tensor) -> "TextCache | None":
    """Turn `config`'s levers on in `model`, in place (the state dict's keys stay the same);
    return the cache of the text tower's frozen blocks over `tokens` (every caption), if any."""
    visual = model.visual
    if config.patch_dropout > 0:
        from open_clip.transformer import PatchDropout

        visual.patch_dropout = PatchDropout(config.patch_dropout)
    if config.train_size is not None:
        visual._embeds = types.MethodType(_resized_embeds, visual)
    if not config.frozen_blocks:
        return None
    for part in _frozen_modules(model, config.frozen_blocks):  # modules and bare parameters alike
        part.requires_grad_(False)
    return TextCache(model, tokens.reshape(-1, tokens.shape[-1]), config.frozen_blocks) \
        if TextCache.fits(model) else None


def trainable(groups: list[dict]) -> list[dict]:
    """The optimiser's parameter groups without frozen parameters (they never get a gradient)."""
    return [{**group, "params": [p for p in group["params"] if p.requires_grad]} for group in groups]


@contextlib.contextmanager
def step_randomness(config, step: int, rank: int = 0):
    """Patch dropout's random patches drawn from (seed, step, process): resume replays them."""
    if config.patch_dropout <= 0:
        yield
        return
    import torch

    with torch.random.fork_rng(devices=[]):  # PatchDropout draws on the CPU generator
        torch.manual_seed(hash((config.seed, step, rank)) & 0x7FFF_FFFF)
        yield


def _blocks(tower: torch.nn.Module):
    transformer = getattr(tower, "transformer", None)
    return getattr(transformer, "resblocks", None)


def _frozen_modules(model: torch.nn.Module, n: int) -> list:
    visual = model.visual
    parts = [getattr(visual, name) for name in VISION_EMBEDDINGS if getattr(visual, name, None) is not None]
    parts += [getattr(model, name) for name in TEXT_EMBEDDINGS if getattr(model, name, None) is not None]
    return parts + list(_blocks(visual)[:n]) + list(_blocks(model)[:n])


def _resized_embeds(self, x: torch.Tensor) -> torch.Tensor:
    """open_clip's `VisionTransformer._embeds`, its positional embedding interpolated (bicubic,
    as open_clip's `resize_pos_embed`) to the grid of `x` when that differs from the model's."""
    import torch
    import torch.nn.functional as F

    x = self.conv1(x)
    grid = x.shape[-2:]
    x = x.reshape(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
    cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], dim=1)
    position = self.positional_embedding
    if tuple(grid) != tuple(self.grid_size):
        first, rest = position[:1], position[1:]
        rest = rest.reshape(1, *self.grid_size, -1).permute(0, 3, 1, 2)
        rest = F.interpolate(rest, size=tuple(grid), mode="bicubic", align_corners=False)
        position = torch.cat([first, rest.permute(0, 2, 3, 1).reshape(-1, position.shape[-1])])
    x = self.patch_dropout(x + position.to(x.dtype))
    return self.ln_pre(x)


class TextCache:
    """The text tower's frozen lower blocks, run once over every caption: a step runs only the
    blocks above them. Exact for open_clip's causal CLIP text tower (what `core.model.fast_text`
    trims), whose features at a position depend only on the tokens up to it."""

    def __init__(self, model: torch.nn.Module, table: torch.Tensor, frozen: int):
        self.model, self.table, self.frozen = model, table, frozen
        self.hidden: torch.Tensor | None = None  # captions × positions × width, computed at first use

    @staticmethod
    def fits(model: torch.nn.Module) -> bool:
        from core.model.fast_text import can_trim

        return can_trim(model) and getattr(model.transformer, "batch_first", False)

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        """The text features of `tokens` (rows of the caption table), as `model.encode_text`."""
        import torch
        from open_clip.transformer import text_global_pool

        from core.model.fast_text import caption_length, pooled_positions

        model = self.model
        eos_id = getattr(model, "text_eos_id", None)
        if self.hidden is None:
            self.hidden = self._lower(self.table.to(tokens.device))
        rows = (tokens[:, None, :] == self.table.to(tokens.device)[None]).all(-1).int().argmax(dim=1)
        length = caption_length(tokens, getattr(model, "pad_id", 0) or 0,
                                pooled_positions(tokens, model.text_pool_type, eos_id))
        x = self.hidden[rows, :length].to(model.transformer.get_cast_dtype())
        for block in model.transformer.resblocks[self.frozen:]:
            x = block(x, attn_mask=model.attn_mask[:length, :length])
        x = text_global_pool(model.ln_final(x), tokens[:, :length], model.text_pool_type, eos_token_id=eos_id)
        projection = model.text_projection
        if projection is None:
            return x
        return projection(x) if isinstance(projection, torch.nn.Linear) else x @ projection

    def _lower(self, table: torch.Tensor) -> torch.Tensor:
        import torch

        from core.model.fast_text import caption_length

        model = self.model
        length = caption_length(table, getattr(model, "pad_id", 0) or 0)
        length = max(length, int(table.argmax(dim=-1).max()) + 1)  # the end-of-text position, whatever the pad
        cast = model.transformer.get_cast_dtype()
        x = model.token_embedding(table[:, :length]).to(cast) + model.positional_embedding[:length].to(cast)
        with torch.no_grad():
            for block in model.transformer.resblocks[:self.frozen]:
                x = block(x, attn_mask=model.attn_mask[:length, :length])
        return x.float()

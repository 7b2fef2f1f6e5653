"""Pretraining the demo CLIP: render a pool of captioned world images once, train contrastively.

The pool mixes the world's styles and clutter as the web mixes them for CLIP (`PRETRAIN_STYLES`):
mostly single objects in photos and cartoons, rarely sketches or paintings, and cluttered
scenes — the demo task's kind of photo — in a fraction of the views set per pretraining
(`clutter`). Images are rendered in parallel with Pillow and kept as one uint8 tensor on the
training device with several pre-tokenised captions each, so a GPU is never kept waiting.
Training is CLIP's: AdamW, warmup then cosine, symmetric InfoNCE, the temperature learnt
and capped at 100.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import math
import multiprocessing
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from core.atomic import save_safetensors, write_json
from core.demo import world
from core.demo.task import IMAGE_SIZE, MODEL_CONFIG, PREPROCESS_CONFIG, measure_zero_shot
from core.errors import Cancelled, FlypError

if TYPE_CHECKING:
    import torch

# How often pretraining shows each style (every other attribute but clutter is uniform).
PRETRAIN_STYLES: dict[str, float] = {"photo": 0.5, "cartoon": 0.34, "pixel": 0.04, "sketch": 0.06, "painting": 0.06}
POOL_CLUTTER = 0.25  # the share of the pool rendered among clutter; training re-weights it to `clutter`
DEFAULT_CLUTTER = 0.1
CAPTIONS = 8  # captions per pool image, one drawn at each view
GROUP = 4  # pool images come in groups that differ only in shape (and size, position)
WARMUP = 500  # steps, whatever the length of the run, so a run's first steps never depend on its length
# The shipped model's recipe (resources/models/demo.stats.json): 1.2 M image-caption views, about
# 30 s of training on one H200 GPU (plus 36 s rendering on 16 cores); hours on a laptop CPU.
DEFAULTS = {"steps": 1200, "batch_size": 1024, "pool_size": 80_000, "lr": 1e-3}


def _no_progress(done: int, total: int) -> None:
    pass


def _never() -> bool:
    return False


@dataclasses.dataclass
class Pool:
    """Rendered pretraining data: uint8 N×3×S×S images, int32 N×CAPTIONS×L caption tokens,
    and which images are cluttered (their groups share it)."""

    images: "torch.Tensor"
    tokens: "torch.Tensor"
    cluttered: "torch.Tensor"

    def to(self, device) -> "Pool":
        return Pool(self.images.to(device), self.tokens.to(device), self.cluttered)


# --- rendering ------------------------------------------------------------------------------

def pool_scene(seed: int, index: int, image_size: int = IMAGE_SIZE):
    """The `index`-th pool image with its scene: a member of a group sharing colour, style,
    background and clutter.

    Colour and style are easy to see; a random batch could be matched to its captions by them
    alone, and the model would learn shapes last. A batch of whole groups can only be matched
    by also reading the shapes, which the downstream task is about.
    """
    group = random.Random(f"demo-pool:{seed}:{index // GROUP}")
    shared = world.sample_scene(group)
    style = group.choices(list(PRETRAIN_STYLES), weights=list(PRETRAIN_STYLES.values()))[0]
    clutter = "cluttered" if group.random() < POOL_CLUTTER else "clear"
    shape = group.sample(world.SHAPES, GROUP)[index % GROUP]
    image, _, scene = world.example(seed, index, image_size, shape=shape, colour=shared.colour,
                                    style=style, background=shared.background, clutter=clutter)
    return image, scene


_tokenizer = None


def _caption_tokens(scene: world.Scene, rng: random.Random, context_length: int) -> list[list[int]]:
    """CAPTIONS captions of `scene`, tokenised as open_clip does (start, words, end, zero padding)."""
    global _tokenizer
    if _tokenizer is None:
        import open_clip

        _tokenizer = open_clip.SimpleTokenizer(context_length=context_length)
    rows = []
    for _ in range(CAPTIONS):
        ids = [_tokenizer.sot_token_id, *_tokenizer.encode(world.describe(scene, rng))][:context_length - 1]
        ids.append(_tokenizer.eot_token_id)
        rows.append(ids + [0] * (context_length - len(ids)))
    return rows


def _render_chunk(job: tuple[int, int, int, int, int]) -> tuple[bytes, list[list[list[int]]], list[bool]]:
    """Pool images [start, start + count) as raw RGB bytes, their captions' tokens and clutter
    (runs in a worker: Pillow and plain Python only, never torch)."""
    seed, start, count, image_size, context_length = job
    pixels, tokens, cluttered = bytearray(), [], []
    for index in range(start, start + count):
        image, scene = pool_scene(seed, index, image_size)
        pixels += image.tobytes()
        tokens.append(_caption_tokens(scene, random.Random(f"demo-captions:{seed}:{index}"), context_length))
        cluttered.append(scene.clutter == "cluttered")
    return bytes(pixels), tokens, cluttered


def render_pool(seed: int, count: int, workers: int, report: Callable[[int], None] = lambda n: None,
                cancel: Callable[[], bool] = _never, image_size: int = IMAGE_SIZE) -> Pool:
    """Render `count` pool images (a multiple of GROUP) with their captions, in parallel."""
    import torch

    context_length = MODEL_CONFIG["text_cfg"]["context_length"]
    chunk = 256
    jobs = [(seed, start, min(chunk, count - start), image_size, context_length) for start in range(0, count, chunk)]
    images = torch.empty((count, 3, image_size, image_size), dtype=torch.uint8)
    tokens = torch.empty((count, CAPTIONS, context_length), dtype=torch.int32)
    cluttered = torch.empty(count, dtype=torch.bool)
    # Like torch's DataLoader: fork on Linux (the workers never run torch); spawn elsewhere,
    # where the caller's script needs the usual `if __name__ == "__main__"`.
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    done = 0
    with contextlib.ExitStack() as stack:
        pool = None
        if workers > 1:
            pool = stack.enter_context(concurrent.futures.ProcessPoolExecutor(workers, mp_context=context))
        for pixels, chunk_tokens, chunk_clutter in (pool.map if pool else map)(_render_chunk, jobs):
            if cancel():
                if pool:  # drop the queued chunks rather than wait for them
                    pool.shutdown(wait=False, cancel_futures=True)
                raise Cancelled("demo pretraining cancelled while rendering its images")
            n = len(chunk_clutter)
            chunk_images = torch.frombuffer(bytearray(pixels), dtype=torch.uint8).view(n, image_size, image_size, 3)
            images[done:done + n] = chunk_images.permute(0, 3, 1, 2)
            tokens[done:done + n] = torch.tensor(chunk_tokens, dtype=torch.int32)
            cluttered[done:done + n] = torch.tensor(chunk_clutter)
            done += n
            report(n)
    return Pool(images, tokens, cluttered)


# --- training -------------------------------------------------------------------------------

def _param_groups(model, weight_decay: float) -> list[dict]:
    """open_clip's grouping: no decay on gains, biases, embeddings' norms and the temperature."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        skip = p.ndim < 2 or "bn" in name or "ln" in name or "bias" in name or "logit_scale" in name
        (no_decay if skip else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lr_at(step: int, steps: int, lr: float, warmup: int = WARMUP) -> float:
    """Linear warmup over `warmup` steps, then cosine decay to zero at `steps`."""
    warmup = min(warmup, max(1, steps // 10))
    if step < warmup:
        return lr * (step + 1) / warmup
    return 0.5 * lr * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))


def group_weights(pool: Pool, clutter: float):
    """Sampling weights per group so that a share `clutter` of the views is cluttered."""
    import torch

    cluttered = pool.cluttered[::GROUP].float()
    share = float(cluttered.mean())
    if not 0 < share < 1:
        return torch.ones_like(cluttered)
    return cluttered * (clutter / share) + (1 - cluttered) * ((1 - clutter) / (1 - share))


def train(model, pool: Pool, seed: int, steps: int, batch_size: int, lr: float, clutter: float = DEFAULT_CLUTTER,
          report: Callable[[int], None] = lambda n: None, cancel: Callable[[], bool] = _never) -> list[float]:
    """Contrastive pretraining on the pool (on the pool's device, bf16 autocast on a GPU).

    Each step draws batch_size / GROUP whole groups (cluttered ones weighted to `clutter`) and
    one of each image's captions. Returns the mean loss of every 50 steps.
    """
    import torch

    from core.model.fast_text import encode_text
    from core.training.losses import contrastive_loss

    device = pool.images.device
    mean = torch.tensor(PREPROCESS_CONFIG["mean"], device=device).view(1, 3, 1, 1)
    std = torch.tensor(PREPROCESS_CONFIG["std"], device=device).view(1, 3, 1, 1)
    optimizer = torch.optim.AdamW(_param_groups(model, 0.1), lr=lr, betas=(0.9, 0.98), eps=1e-6,
                                  fused=device.type == "cuda")
    draw = torch.Generator().manual_seed(seed)
    weights, per_batch = group_weights(pool, clutter), batch_size // GROUP
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()
    losses, window = [], []
    model.train()
    for step in range(steps):
        if cancel():
            raise Cancelled(f"demo pretraining cancelled at step {step} of {steps}")
        groups = torch.multinomial(weights, per_batch, generator=draw)
        index = (groups[:, None] * GROUP + torch.arange(GROUP)).flatten()
        caption = torch.randint(CAPTIONS, (len(index),), generator=draw)
        index, caption = index.to(device), caption.to(device)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, steps, lr)
        with autocast:
            image_features = model.encode_image((pool.images[index].float() / 255 - mean) / std)
            text_features = encode_text(model, pool.tokens[index, caption].long())
        loss = contrastive_loss(torch.nn.functional.normalize(image_features.float(), dim=-1),
                                torch.nn.functional.normalize(text_features.float(), dim=-1),
                                model.logit_scale.exp())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():  # as open_clip's trainer: the scale stays at most 100
            model.logit_scale.clamp_(0, math.log(100))
        window.append(loss.detach())
        if len(window) == 50 or step == steps - 1:
            losses.append(float(torch.stack(window).mean()))
            window = []
        report(batch_size)
    model.eval()
    return losses


# --- the whole pretraining ------------------------------------------------------------------

def save_model_dir(model, out_dir: str | os.PathLike, model_config: dict = MODEL_CONFIG) -> None:
    """Write an open_clip local-dir folder: `open_clip_config.json` + fp16 safetensors.

    fp16 halves the shipped file; open_clip copies the weights into fp32 parameters on load.
    """
    out = Path(out_dir)
    state = {k: v.detach().cpu().half() if v.is_floating_point() else v.cpu() for k, v in model.state_dict().items()}
    save_safetensors(state, out / "open_clip_model.safetensors", metadata={"format": "pt"})
    write_json(out / "open_clip_config.json", {"model_cfg": model_config, "preprocess_cfg": PREPROCESS_CONFIG})


def _machine(device) -> dict:
    """Where a pretraining ran: the weights depend on the device and torch build, the time on the machine."""
    import open_clip
    import torch

    where = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "system": platform.system(),
             "device": str(device), "python": platform.python_version(), "torch": torch.__version__,
             "open_clip": open_clip.__version__}
    if device.type == "cuda":
        where["gpu"] = torch.cuda.get_device_name(device)
    with contextlib.suppress(AttributeError, OSError):
        where["load_average"] = [round(v, 2) for v in os.getloadavg()]
    return where


def pretrain_demo_model(
    out_dir: str | os.PathLike,
    seed: int = 0,
    steps: int = DEFAULTS["steps"],
    batch_size: int = DEFAULTS["batch_size"],
    pool_size: int = DEFAULTS["pool_size"],
    lr: float = DEFAULTS["lr"],
    clutter: float = DEFAULT_CLUTTER,
    device: str = "cpu",
    model_config: dict = MODEL_CONFIG,
    workers: int | None = None,
    pool: Pool | None = None,
    measure_per_class: int = 10,
    progress: Callable[[int, int], None] = _no_progress,
    cancel: Callable[[], bool] = _never,
) -> dict:
    """Pretrain the demo CLIP from `seed` and write it to `out_dir` as an open_clip local-dir.

    Random init, then `steps` AdamW steps of CLIP's loss on `pool_size` rendered world images
    (or a `pool` already rendered). On the CPU training runs on one thread, so the same seed
    and steps give the same weights on any machine with the same torch build; on a GPU it runs
    in bf16 autocast (the same recipe, not the same bits). The folder also gets
    `zero_shot.json`: the model's zero-shot accuracy per demo split on a small sample
    (`measure_per_class` images per class), which the tests reproduce. progress(done, total)
    counts images rendered plus images trained on. Returns the settings, timings, losses and
    accuracies (the caller keeps them as `<out_dir>.stats.json`). Raises Cancelled when
    `cancel()` turns true (nothing is written then).
    """
    import open_clip
    import torch

    if steps < 1 or batch_size < 2 * GROUP or pool_size < batch_size or batch_size % GROUP or pool_size % GROUP:
        raise FlypError(f"pretraining needs steps ≥ 1, pool_size ≥ batch_size ≥ {2 * GROUP}, both multiples "
                        f"of {GROUP} (got steps={steps}, batch_size={batch_size}, pool_size={pool_size})")
    device = torch.device(device)
    total, done = (0 if pool else pool_size) + steps * batch_size, 0

    def report(n: int) -> None:
        nonlocal done
        done += n
        progress(done, total)

    started = time.perf_counter()
    if pool is None:
        pool = render_pool(seed, pool_size, workers or os.cpu_count() or 1, report, cancel)
    pool_size = len(pool.cluttered)
    rendered = time.perf_counter()
    torch.manual_seed(seed)
    model = open_clip.CLIP(**model_config).to(device)
    threads = torch.get_num_threads()
    if device.type == "cpu":
        # One thread: the weights then depend on the seed only, not on how many cores split each
        # reduction; and for a model this small one thread was faster than two (measured).
        torch.set_num_threads(1)
    try:
        losses = train(model, pool.to(device), seed, steps, batch_size, lr, clutter, report, cancel)
    finally:
        torch.set_num_threads(threads)
    trained = time.perf_counter()
    save_model_dir(model, out_dir, model_config)
    zero_shot = measure_zero_shot(out_dir, per_class=measure_per_class)
    write_json(Path(out_dir) / "zero_shot.json", zero_shot)
    return {
        "zero_shot": zero_shot["accuracy"],
        "seed": seed, "steps": steps, "batch_size": batch_size, "pool_size": pool_size, "lr": lr,
        "clutter": clutter, "styles": PRETRAIN_STYLES, "vision_cfg": model_config["vision_cfg"],
        "render_s": round(rendered - started, 1), "train_s": round(trained - rendered, 1),
        "made_on": _machine(device), "loss_every_50_steps": [round(v, 4) for v in losses],
    }

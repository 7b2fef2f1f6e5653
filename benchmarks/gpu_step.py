"""FLYP training step on a CUDA GPU: images/s, model-FLOPs utilisation and peak memory.

    python benchmarks/gpu_step.py                      # ViT-B-16, batch 256, bf16 autocast
    python benchmarks/gpu_step.py --precision fp32 --batch-size 128
    python benchmarks/gpu_step.py --device cpu --model flyp-tiny --batch-size 16 --steps 3   # dry run

Runs the engine's step (text tower on the captions' real length, the towers under the
engine's autocast, CLIP's contrastive loss in fp32, fused AdamW; `--compile` and
`--grad-checkpointing` as the engine applies them) on random pixels and real captions, after warm-up steps. Model FLOPs are counted
with torch's FlopCounterMode on one step; utilisation is achieved FLOP/s over the GPU's
dense bf16 (or fp32) peak, taken from --peak-tflops or a table of common GPUs. Random weights
are fine for speed. Finishes in well under 5 minutes on a recent GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PEAK_TFLOPS = {  # dense, without sparsity: (bf16, fp32 non-tensor-core)
    "H200": (989, 67), "H100": (989, 67), "A100": (312, 19.5), "L40S": (362, 91.6), "L4": (121, 30.3),
    "A10": (125, 31.2), "RTX 4090": (165, 82.6), "RTX 3090": (71, 35.6), "V100": (125, 15.7),
}


def peak_tflops(name: str, precision: str) -> float | None:
    for key, (bf16, fp32) in PEAK_TFLOPS.items():
        if key.lower() in name.lower():
            return bf16 if precision == "bf16" else fp32
    return None


def main() -> None:
    import open_clip
    import torch
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    from core.training import acceleration
    from core.model.fast_text import encode_text
    from core.training.losses import contrastive_loss
    from core.model.loading import ModelSpec, load_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ViT-B-16")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--compile", action="store_true", help="torch.compile the towers")
    parser.add_argument("--grad-checkpointing", action="store_true")
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line, last")
    args = parser.parse_args()

    device = torch.device(args.device)
    loaded = load_model(ModelSpec(args.model, "none"), device)
    model = loaded.model.train()
    if args.grad_checkpointing:
        acceleration.enable_gradient_checkpointing(model)
    if args.compile:
        acceleration.compile_towers(model)
    size = loaded.image_size
    pixels = torch.randn(args.batch_size, 3, size, size, device=device)
    captions = [f"a photo of a {c}." for c in ("cat", "dog", "tench", "golden retriever")] * (args.batch_size // 4 + 1)
    tokens = loaded.tokenizer(captions[:args.batch_size]).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.1, fused=device.type == "cuda")
    dtype = acceleration.autocast_dtype(args.precision, device)

    def step():
        with acceleration.autocast(device, dtype):
            image, text = model.encode_image(pixels), encode_text(model, tokens)
        image, text = F.normalize(image.float(), dim=-1), F.normalize(text.float(), dim=-1)
        loss = contrastive_loss(image, text, model.logit_scale.exp())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(args.warmup):
        step()
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    sync()
    seconds = (time.perf_counter() - start) / args.steps
    with FlopCounterMode(display=False) as counter:
        step()
    flops = counter.get_total_flops() / seconds
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    peak = args.peak_tflops or peak_tflops(name, args.precision)
    print(f"{args.model} · batch {args.batch_size} · {args.precision} · {name} · torch {torch.__version__} "
          f"· open_clip {open_clip.__version__}")
    print(f"step {seconds * 1000:.0f} ms · {args.batch_size / seconds:.0f} images/s · {flops / 1e12:.1f} TFLOP/s achieved"
          + (f" · MFU {flops / (peak * 1e12):.0%} of {peak:g} TFLOP/s" if peak else ""))
    if device.type == "cuda":
        print(f"peak memory {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB")
    if args.json:
        print(json.dumps({"images_s": args.batch_size / seconds, "step_s": seconds, "tflops": flops / 1e12,
                          "mfu": flops / (peak * 1e12) if peak else None, "device": name}))


if __name__ == "__main__":
    main()

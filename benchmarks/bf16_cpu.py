"""bf16 on a CPU: a FLYP training step under bf16 autocast against fp32, per instruction set.

`core.training.levers.cpu_bf16` counts bf16 as paying only on CPUs with AMX. This measures why,
on one CPU with AMX: each child process caps oneDNN's instruction set (`ONEDNN_MAX_CPU_ISA`) to
what another CPU has, and times the same training step (image and text towers forward and
backward, open_clip's contrastive loss, an AdamW step), fp32 and bf16 alternating:

- no cap: AMX (Xeon from Sapphire Rapids on);
- AVX512_CORE_BF16: AVX-512 with bf16 dot products, no AMX (Cooper Lake; AMD Zen 4 runs the same
  kernels on its own, narrower, units);
- AVX512_CORE: plain AVX-512, bf16 emulated (Skylake, Cascade Lake).

    .venv/bin/python benchmarks/bf16_cpu.py [--models tiny ViT-B-32] [--repeats 5]

Prints images/s (median of the repeats) and the bf16/fp32 ratio per model and instruction set.
Timings mean something only on a quiet machine; the load average is printed. Weights are random
(open_clip's initialisation): the arithmetic, not the accuracy, is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ISAS = {"AMX": None, "AVX-512 BF16, no AMX": "AVX512_CORE_BF16", "AVX-512, bf16 emulated": "AVX512_CORE"}
TINY = {"embed_dim": 128,  # the demo model's shape: 64 px, width 128, 4 + 4 blocks
        "vision_cfg": {"image_size": 64, "layers": 4, "width": 128, "patch_size": 8, "head_width": 32},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 128, "heads": 2, "layers": 4}}
BATCH = {"tiny": 64, "ViT-B-32": 32}


def child(model_name: str, repeats: int) -> dict:
    """images/s of fp32 and bf16 steps (median over `repeats` rounds of a few steps each)."""
    import open_clip
    import torch

    torch.manual_seed(0)
    model = open_clip.CLIP(**TINY) if model_name == "tiny" else open_clip.create_model(model_name)
    size, batch = model.visual.image_size[0], BATCH[model_name]
    images, tokens = torch.randn(batch, 3, size, size), torch.randint(1, 49407, (batch, 77))
    tokens[:, 20] = 49407  # the end-of-text token, where open_clip pools the caption
    loss_fn, optimiser = open_clip.ClipLoss(), torch.optim.AdamW(model.parameters(), lr=1e-5)

    def steps(dtype, count: int) -> float:
        started = time.perf_counter()
        for _ in range(count):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16"):
                image, text = model.encode_image(images), model.encode_text(tokens)
            image = torch.nn.functional.normalize(image.float(), dim=-1)
            text = torch.nn.functional.normalize(text.float(), dim=-1)
            loss = loss_fn(image, text, model.logit_scale.exp())
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        return count * batch / (time.perf_counter() - started)

    count = 3 if model_name == "tiny" else 1
    for dtype in ("fp32", "bf16"):  # warm up: oneDNN builds its kernels at the first call
        steps(dtype, 1)
    rates = {"fp32": [], "bf16": []}
    for _ in range(repeats):
        for dtype in rates:
            rates[dtype].append(steps(dtype, count))
    return {dtype: statistics.median(values) for dtype, values in rates.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=["tiny", "ViT-B-32"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.repeats)))
        return 0
    print(f"load average before: {os.getloadavg()}", flush=True)
    for model in args.models:
        for name, isa in ISAS.items():
            env = os.environ | ({"ONEDNN_MAX_CPU_ISA": isa} if isa else {})
            out = subprocess.run([sys.executable, __file__, "--child", model, "--repeats", str(args.repeats)],
                                 env=env, capture_output=True, text=True, check=True, cwd=ROOT)
            rate = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{model:9s} {name:24s} fp32 {rate['fp32']:7.1f} images/s, bf16 {rate['bf16']:7.1f}: "
                  f"{rate['bf16'] / rate['fp32']:.2f}×", flush=True)
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

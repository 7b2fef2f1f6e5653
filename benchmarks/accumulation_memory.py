"""Peak memory of one FLYP training step with and without feature-cached micro-batches.

Each setting runs in a fresh process: load the model (random weights), run a warm-up step on two
images (it allocates AdamW's moments and the libraries' one-off buffers), then measure one
training step of the engine's own code path (`core.training.accumulate.flyp_backward` + AdamW) on a fixed
random batch:

- on the CPU, the growth of the process's resident memory during the step (peak RSS from
  /proc, reset before the step, minus the RSS before it; freed memory is returned to the
  system first with malloc_trim, and large blocks are mmapped so that RSS follows live memory);
- on CUDA, `torch.cuda.max_memory_allocated()` minus the memory allocated before the step.

The growth includes the gradients (one float per parameter): with micro-batches they exist
while the later micro-batches run, so they are the floor, and the activations of one
micro-batch come on top. Without micro-batches, the activations of the whole batch grow with
the batch. The loss column shows that every row of a batch computes the same step. The cost is
the step's CPU time on one thread on the CPU (steadier than wall time on a shared machine), its
wall time on CUDA.

    python benchmarks/accumulation_memory.py                      # ViT-B-32, batches 32 and 64, CPU
    python benchmarks/accumulation_memory.py --model ViT-B-16 --batch 256 --micro none,64,32 --device cuda
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def measure(model_name: str, batch: int, micro: int | None, device: str) -> dict:
    """One setting, in this process: {"growth_mb", "step_s", "loss"}."""
    import torch
    import torch.nn.functional as F

    if device == "cpu":
        torch.set_num_threads(1)
    from core.training.accumulate import flyp_backward
    from core.model.fast_text import encode_text
    from core.model.loading import ModelSpec, load_model
    from core.data.transforms import Normalize

    loaded = load_model(ModelSpec(model_name, "none"), device)
    model = loaded.model.train()
    normalize = Normalize(loaded.preprocess["mean"], loaded.preprocess["std"])
    g = torch.Generator().manual_seed(0)
    size = loaded.image_size
    images = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8, generator=g).to(device)
    labels = torch.arange(batch) % 10
    tokens = loaded.tokenizer([f"a photo of a class {i}." for i in labels.tolist()]).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.1)

    def encode(im, tok):
        return F.normalize(model.encode_image(normalize(im)), dim=-1), F.normalize(encode_text(model, tok), dim=-1)

    def step(rows: slice, micro_batch: int | None) -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = flyp_backward(encode, model.logit_scale.exp(), images[rows], tokens[rows], labels[rows].to(device),
                             micro_batch=micro_batch)
        optimizer.step()
        return float(loss)

    step(slice(0, 2), None)  # warm-up
    optimizer.zero_grad(set_to_none=True)  # the measured step allocates its gradients itself
    before = _memory_before(device)
    clock = time.perf_counter if device.startswith("cuda") else time.process_time
    start = clock()
    loss = step(slice(None), micro)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = clock() - start
    grads = sum(p.numel() * p.element_size() for p in model.parameters())
    return {"growth_mb": (_peak(device) - before) / 2**20, "step_s": seconds, "loss": loss, "grads_mb": grads / 2**20}


def _memory_before(device: str) -> int:
    import gc

    import torch

    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")  # resets the peak RSS (VmHWM) to the current RSS
    return _status_kb("VmRSS") * 1024


def _peak(device: str) -> int:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated()
    return _status_kb("VmHWM") * 1024


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status (Linux only)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ViT-B-32", help="open_clip architecture (random weights)")
    parser.add_argument("--batch", default="32,64", help="batch sizes, comma-separated")
    parser.add_argument("--micro", default="none,16,8", help="micro-batch sizes to compare; none = whole batch")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one setting, print JSON
    args = parser.parse_args()
    if args.one is not None:
        result = measure(args.model, int(args.batch), None if args.one == "none" else int(args.one), args.device)
        print(json.dumps(result))
        return
    print(f"{args.model}, {args.device}", flush=True)
    print("| batch | micro-batch | peak memory growth of a step | step time | vs whole batch | loss |")
    print("|---|---|---|---|---|---|")
    for batch in args.batch.split(","):
        whole = None
        for micro in args.micro.split(","):
            r = _measure_apart(args, batch, micro)
            whole = whole or r["step_s"]
            label = "whole batch" if micro == "none" else micro
            print(f"| {batch} | {label} | {r['growth_mb']:,.0f} MB | {r['step_s']:.1f} s | {r['step_s'] / whole:.2f}× "
                  f"| {r['loss']:.6f} |", flush=True)
    print(f"(gradients: {r['grads_mb']:,.0f} MB)")


def _measure_apart(args, batch: str, micro: str) -> dict:
    """One setting in a fresh process, so that no allocation of another setting is counted."""
    env = os.environ | {"MALLOC_MMAP_THRESHOLD_": "65536"}  # fixed threshold: big tensors go back to the OS
    out = subprocess.run([sys.executable, __file__, "--model", args.model, "--batch", batch, "--device", args.device,
                          "--one", micro], env=env, capture_output=True, text=True)
    if out.returncode:
        sys.exit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])

if __name__ == "__main__":
    main()

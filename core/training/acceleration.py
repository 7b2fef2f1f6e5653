"""Training speed and memory options: the same training, faster or in less memory.

- precision: the towers' forward passes under bf16 autocast (the default on CUDA GPUs that
  support bf16; fp32 elsewhere, and always available). Features are normalised and the loss is
  computed in fp32; weights, gradients and optimiser state stay fp32, so results differ from
  fp32 training by rounding only.
- compile: `torch.compile` of the image and text towers, in place (state dict keys unchanged).
  The first steps are slow while it compiles; it pays off on long runs.
- gradient checkpointing: the transformer towers keep only their blocks' inputs and recompute
  the rest in the backward pass: about a third more compute for much less activation memory.
"""

from __future__ import annotations

import contextlib
import logging
import shutil

import torch

from core.errors import FlypError

def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of the towers' forward passes, or None for plain fp32."""
    if precision == "fp32":
        return None
    cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    if precision == "bf16":
        if device.type == "cuda" and not cuda_bf16:  # before Ampere: autocast would refuse with a traceback
            raise FlypError(f"«precision» bf16: this GPU ({torch.cuda.get_device_name(device)}) does not "
                            "support bf16; use «precision» fp32 or auto")
        return torch.bfloat16
    return torch.bfloat16 if cuda_bf16 else None


def autocast(device: torch.device, dtype: torch.dtype | None):
    """A context running its block under autocast to `dtype` (nothing when `dtype` is None)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def check_compiler() -> None:
    """torch.compile builds C++ (CPU) or Triton (GPU) kernels: both need a C compiler on the PATH."""
    if not any(shutil.which(name) for name in ("cc", "gcc", "clang", "cl")):
        raise FlypError("«compile»: torch.compile needs a C compiler (gcc, clang, or MSVC's cl on Windows) "
                        "on the PATH and none was found; install one, or train without «compile»")


def compile_towers(model: torch.nn.Module) -> None:
    """Compile the image tower and the text transformer in place (their parameters are shared)."""
    # Inductor looks for CUDA even when compiling for the CPU, and says so on every run.
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    model.visual.compile()
    text = getattr(model, "transformer", None) or getattr(model, "text", None)
    if text is not None:
        text.compile()


def enable_gradient_checkpointing(model: torch.nn.Module) -> list[str]:
    """Checkpoint the towers' transformer blocks (open_clip's own switch); return the towers
    that cannot be checkpointed (ResNet image towers: recomputing batch norm in the backward
    pass would update its running statistics twice)."""
    from open_clip.modified_resnet import ModifiedResNet

    model.set_grad_checkpointing(True)
    return ["image tower (ResNet)"] if isinstance(model.visual, ModifiedResNet) else []

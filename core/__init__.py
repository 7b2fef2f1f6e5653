"""FLYP Studio's engine: data, captions, models, FLYP finetuning, evaluation, blending, export.

Nothing here imports Qt; the app (`flyp_app`) and the `flyp` command line drive the same
functions. Heavy libraries (torch, open_clip) are imported by the modules that need them, so
`import core` itself stays cheap.
"""

__version__ = "0.1.0"

# How PyTorch's CPU threads wait for each other (spin on free cores, sleep on shared ones) is read
# once, when torch loads: chosen then from how busy the cores are (core/cpu_waiting.py).
from core import cpu_waiting  # noqa: E402  (cheap: no torch)

cpu_waiting.choose_before_torch()

"""FLYP Studio's engine: data, captions, models, FLYP finetuning, evaluation, blending, export.

Nothing here imports Qt; the app (`flyp_app`) and the `flyp` command line drive the same
functions. Heavy libraries (torch, open_clip) are imported by the modules that need them, so
`import core` itself stays cheap.
"""

import os

__version__ = "0.1.0"

# PyTorch's CPU threads wait for each other between operations; by default they spin while they
# wait, and when anything else wants a core (the app's window, a browser, a second process under
# torchrun) the spinning threads take it: one busy core made a demo training epoch 1.7× slower.
# Sleeping instead costs ~5% on an idle machine (benchmarks/README.md). Set before torch loads
# its OpenMP library, which reads it once; a value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

"""FLYP Studio's engine: data, captions, models, FLYP finetuning, evaluation, blending, export.

Nothing here imports Qt; the app (`flyp_app`) and the `flyp` command line drive the same
functions. Heavy libraries (torch, open_clip) are imported by the modules that need them, so
`import core` itself stays cheap.
"""

__version__ = "0.1.0"

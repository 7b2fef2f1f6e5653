"""Data files shipped with FLYP Studio: caption presets, model configs, the demo model, icons.

Found through `importlib.resources`, so they resolve the same from a source checkout, an
installed wheel and a frozen bundle.
"""

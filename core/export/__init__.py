"""Export: writing and reading self-checking model bundles, and ONNX."""

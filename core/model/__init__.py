"""Models: loading CLIP models, the fast text tower, the classifier over the user's classes, evaluation,
and image features cached on disk per file and model."""

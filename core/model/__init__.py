"""Models: loading CLIP models, the fast text tower, the classifier over the user's classes, evaluation."""

"""Labelling new images: the model that classifies them, folders classified in batches (CSV,
sorting), images assigned to classes as files with a log and undo, and suggestions that learn
from the labels."""

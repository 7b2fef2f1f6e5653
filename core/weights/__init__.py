"""Weights after training: weight ensembling (WiSE-FT), model soups, runs compared."""

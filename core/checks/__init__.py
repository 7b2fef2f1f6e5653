"""Checks of a labelled folder before training: suspicious labels, near-duplicates, balance and size."""

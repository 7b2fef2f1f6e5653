"""Widgets the pages share: run picker, plots, result lists."""

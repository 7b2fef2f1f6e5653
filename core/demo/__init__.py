"""The embedded demo: the procedural world, the demo task and model's pretraining, and `flyp demo`."""

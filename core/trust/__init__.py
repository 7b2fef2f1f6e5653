"""Trusting each prediction: "none of these classes" (novelty in the model's feature space),
confidence calibrated on ID validation and measured per set, heat maps of where the model
looked, and what finetuning made the model forget (a control set along α)."""

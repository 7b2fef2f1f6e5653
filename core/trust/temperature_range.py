"""The range a fitted temperature is kept in, shared by the fit (`core.trust.calibration`, torch)
and the predictions that divide by it (`core.trust.temperature`, no torch)."""

from __future__ import annotations

# The range a fitted T is kept in. Below 1/20 the logits are multiplied by more than 20, and every
# confidence rounds to 0 or 1: that is what the fit runs to when validation has (almost) no errors,
# the NLL then falling as T → 0 without a minimum, not a measurement of the model. Above 20 every
# confidence tends to 1/classes: the fit runs there only when validation is no better than chance.
T_MIN, T_MAX = 0.05, 20.0


def clamp(temperature: float) -> float:
    """`temperature` kept within [T_MIN, T_MAX]."""
    return min(T_MAX, max(T_MIN, float(temperature)))

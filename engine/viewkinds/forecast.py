"""The forecast view: a validation series with the model's one-step forecasts over the truth, and a
multi-step rollout that feeds the model's own outputs back in.

Contract with the sequence data (engine/sequences.py): x_val is (N, T, F) windows, the series in
feature 0, and y_val is (N, H), the H values after each window. The windows of one series come in
order, each the last moved on by one step, and the validation split holds several series. The view
draws the first of them: the windows up to the first that does not continue the one before.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..views import View, ViewData, model_device, register_view, rounded

POINTS = 200  # validation steps drawn
# About this many steps fed back (rounded up to whole horizons). Each is one forward pass of one
# window, about 1 ms for an LSTM over 30 steps on one CPU thread, and they cannot be batched: the
# rollout is most of the view's cost, and so of how often it can refresh within its budget.
ROLLOUT_STEPS = 30


def _rollout(model: nn.Module, window: torch.Tensor, horizon: int, k: int) -> torch.Tensor:
    """Feed the model its own forecasts: k forward passes of one window, (T, F) -> (k * H,)."""
    w = window.clone()
    out = []
    for _ in range(k):
        y = model(w[None])[0, :horizon]  # (1, T, F) -> (H,)
        out.append(y)
        step = w[-1:].repeat(horizon, 1)  # (H, F): other features held at their last value
        step[:, 0] = y
        w = torch.cat([w, step])[-len(window):]  # slide on by H steps
    return torch.cat(out)


def first_series(x: torch.Tensor) -> int:
    """How many of the windows (N, T, F) in front slide one step at a time along one series."""
    goes_on = (x[1:, :-1] == x[:-1, 1:]).flatten(1).all(dim=1)  # (N-1,): window i+1 continues window i
    breaks = (~goes_on).nonzero()
    return int(breaks[0]) + 1 if len(breaks) else len(x)


def take_forecast(model: nn.Module, data: ViewData, epoch: int) -> dict[str, Any]:
    """Truth and one-step forecasts along the first validation series, and a rollout from its start."""
    device = model_device(model)
    n = first_series(data.split.x_val[:POINTS])
    x = data.split.x_val[:n].to(device)  # (P, T, F)
    y = data.split.y_val[:n].reshape(n, -1)  # (P, H)
    horizon = int(y.shape[1])
    pred = model(x)[:, 0].cpu()  # (P,): the first of each window's H forecasts
    k = max(1, math.ceil(min(ROLLOUT_STEPS, len(x)) / horizon))
    roll = _rollout(model, x[0], horizon, k).cpu()  # (k * H,)
    return {"context": rounded(x[0, :, 0].cpu(), 4), "truth": rounded(y[:, 0], 4), "pred": rounded(pred, 4),
            "rollout": rounded(roll, 4), "horizon": horizon, "k": k}


# Weighted 3 to 1 against the weights view (microseconds): the forecast gets most of the budget.
register_view(View("forecast", "Forecast", lambda task, data: data.kind == "sequence", take_forecast,
                   tasks=("forecasting",), data_kinds=("sequence",), budget=3.0))

"""Views of a model's predictions for 2-D and 1-D inputs: decision boundary, fitted curve, surface.

Moved unchanged from engine/snapshots.py; only the choice of view became each view's `applies`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..views import View, ViewData, is_classifier, model_device, register_view, rounded

GRID = 64  # cells per side of a boundary or surface grid
CURVE_POINTS = 200


def _bounds(x: torch.Tensor, dim: int) -> tuple[float, float]:
    lo, hi = float(x[:, dim].min()), float(x[:, dim].max())
    pad = 0.1 * (hi - lo or 1.0)
    return round(lo - pad, 4), round(hi + pad, 4)


def _grid(model: nn.Module, x_all: torch.Tensor) -> tuple[dict[str, Any], torch.Tensor]:
    """The model's output on a GRID x GRID grid spanning the data: (frame fields, (G*G, out))."""
    (x0, x1), (y0, y1) = _bounds(x_all, 0), _bounds(x_all, 1)
    gx = torch.linspace(x0, x1, GRID)
    gy = torch.linspace(y0, y1, GRID)
    yy, xx = torch.meshgrid(gy, gx, indexing="ij")  # row r holds y = gy[r], rising from y0
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1).to(model_device(model))  # (G*G, 2)
    return {"x": [x0, x1], "y": [y0, y1], "n": GRID}, model(pts).cpu()


def take_boundary(model: nn.Module, data: ViewData, epoch: int) -> dict[str, Any]:
    """Predicted class and its probability on the grid."""
    base, out = _grid(model, data.x_all)
    prob = out.softmax(dim=1)  # (G*G, K)
    conf, pred = prob.max(dim=1)
    return {**base, "classes": int(out.shape[1]), "pred": pred.tolist(),
            "conf": rounded(conf, 2)}  # colour intensity: 1% steps suffice


def take_surface(model: nn.Module, data: ViewData, epoch: int) -> dict[str, Any]:
    """The predicted value on the grid."""
    base, out = _grid(model, data.x_all)
    vals = rounded(out[:, 0], 4)
    return {**base, "value": vals, "vmin": min(vals), "vmax": max(vals)}


def take_curve(model: nn.Module, data: ViewData, epoch: int) -> dict[str, Any]:
    """The predicted value at CURVE_POINTS inputs spanning the data."""
    x0, x1 = _bounds(data.x_all, 0)
    xs = torch.linspace(x0, x1, CURVE_POINTS)
    ys = model(xs.reshape(-1, 1).to(model_device(model)))[:, 0].cpu()  # (P, 1) -> (P,)
    return {"x": rounded(xs, 4), "y": rounded(ys, 4)}


def _shape_is(shape: tuple[int, ...], accuracy: bool):
    return lambda task, data: data.input_shape == shape and is_classifier(task) == accuracy


register_view(View("boundary", "Decision boundary", _shape_is((2,), True), take_boundary,
                   tasks=("classification",), data_kinds=("2d",)))
register_view(View("surface", "Predicted surface", _shape_is((2,), False), take_surface,
                   tasks=("regression",), data_kinds=("2d",)))
register_view(View("curve", "Fitted curve", _shape_is((1,), False), take_curve,
                   tasks=("regression",), data_kinds=("1d",)))


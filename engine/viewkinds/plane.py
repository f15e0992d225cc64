"""Views of a model's predictions for 2-D and 1-D inputs: decision boundary, fitted curve, surface.

Moved unchanged from engine/snapshots.py; only the choice of view became each view's `applies`.
"""

from __future__ import annotations

import base64
from typing import Any

import torch
from torch import nn

from ..views import View, ViewData, is_classifier, model_device, register_view, rounded

GRID = 64  # cells per side of a boundary or surface grid
CURVE_POINTS = 200
ANIMATED = 3.0  # budget weight: the picture users watch move gets three times a table's share


def _bounds(x: torch.Tensor, dim: int) -> tuple[float, float]:
    lo, hi = float(x[:, dim].min()), float(x[:, dim].max())
    pad = 0.1 * (hi - lo or 1.0)
    return round(lo - pad, 4), round(hi + pad, 4)


def _grid(model: nn.Module, data: ViewData) -> tuple[dict[str, Any], torch.Tensor]:
    """The model's output on a GRID x GRID grid spanning the data: (frame fields, (G*G, out)).

    The grid is the data's, so it is built once per run and kept in the ViewData's cache."""
    device = model_device(model)
    key = ("plane-grid", str(device))
    if key not in data.cache:
        (x0, x1), (y0, y1) = _bounds(data.x_all, 0), _bounds(data.x_all, 1)
        gx = torch.linspace(x0, x1, GRID)
        gy = torch.linspace(y0, y1, GRID)
        yy, xx = torch.meshgrid(gy, gx, indexing="ij")  # row r holds y = gy[r], rising from y0
        pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1).to(device)  # (G*G, 2)
        data.cache[key] = ({"x": [x0, x1], "y": [y0, y1], "n": GRID}, pts)
    base, pts = data.cache[key]
    return dict(base), model(pts).cpu()


def u8(t: torch.Tensor) -> str:
    """Values in 0..255 as base64 of one byte each: a 64 x 64 grid is 5.5 kB of JSON string, where
    lists of numbers cost 8 ms to encode on the server's loop per snapshot (issue 16)."""
    return base64.b64encode(t.to(torch.uint8).numpy().tobytes()).decode("ascii")


def take_boundary(model: nn.Module, data: ViewData, epoch: int) -> dict[str, Any]:
    """Predicted class and its probability (in percent) on the grid, one byte per cell each."""
    base, out = _grid(model, data)
    top, pred = out.max(dim=1)  # (G*G, K) -> (G*G,)
    conf = (out - top[:, None]).exp().sum(dim=1).reciprocal()  # softmax's largest probability
    return {**base, "classes": int(out.shape[1]), "encoding": "u8-base64", "pred": u8(pred),
            "conf": u8((conf * 100).round())}  # colour intensity: 1% steps suffice


def take_surface(model: nn.Module, data: ViewData, epoch: int) -> dict[str, Any]:
    """The predicted value on the grid."""
    base, out = _grid(model, data)
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
                   tasks=("classification",), data_kinds=("2d",), budget=ANIMATED))
register_view(View("surface", "Predicted surface", _shape_is((2,), False), take_surface,
                   tasks=("regression",), data_kinds=("2d",), budget=ANIMATED))
register_view(View("curve", "Fitted curve", _shape_is((1,), False), take_curve,
                   tasks=("regression",), data_kinds=("1d",), budget=ANIMATED))


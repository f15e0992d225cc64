"""Views of a model's predictions for 2-D and 1-D inputs: decision boundary, fitted curve, surface."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

GRID = 64  # cells per side of a boundary or surface grid
CURVE_POINTS = 200


def snapshot_kind(input_shape: tuple[int, ...], has_accuracy: bool) -> str | None:
    """Which view fits the data, or None where none does (images, sequences)."""
    if input_shape == (2,):
        return "boundary" if has_accuracy else "surface"
    if input_shape == (1,):
        return "curve" if not has_accuracy else None
    return None


def _bounds(x: torch.Tensor, dim: int) -> tuple[float, float]:
    lo, hi = float(x[:, dim].min()), float(x[:, dim].max())
    pad = 0.1 * (hi - lo or 1.0)
    return round(lo - pad, 4), round(hi + pad, 4)


def _rounded(t: torch.Tensor, digits: int) -> list[float]:
    """round(v, digits) for every value, done in torch: a Python round() per cell was two thirds of
    a 64x64 boundary snapshot's cost, and snapshots are part of every run's wall time."""
    scale = 10.0 ** digits
    return (t.double() * scale).round().div(scale).tolist()


@torch.no_grad()
def take_snapshot(model: nn.Module, kind: str, x_all: torch.Tensor, epoch: int) -> dict[str, Any]:
    """Evaluate the model on a grid spanning `x_all` (the data's inputs); JSON-ready output."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        if kind == "curve":
            x0, x1 = _bounds(x_all, 0)
            xs = torch.linspace(x0, x1, CURVE_POINTS)
            ys = model(xs.reshape(-1, 1).to(device))[:, 0].cpu()  # (P, 1) -> (P,)
            return {"epoch": epoch, "x": _rounded(xs, 4), "y": _rounded(ys, 4)}
        (x0, x1), (y0, y1) = _bounds(x_all, 0), _bounds(x_all, 1)
        gx = torch.linspace(x0, x1, GRID)
        gy = torch.linspace(y0, y1, GRID)
        yy, xx = torch.meshgrid(gy, gx, indexing="ij")  # row r holds y = gy[r], rising from y0
        pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1).to(device)  # (G*G, 2)
        out = model(pts).cpu()
        base = {"epoch": epoch, "x": [x0, x1], "y": [y0, y1], "n": GRID}
        if kind == "boundary":
            prob = out.softmax(dim=1)  # (G*G, K)
            conf, pred = prob.max(dim=1)
            return {**base, "classes": int(out.shape[1]), "pred": pred.tolist(),
                    "conf": _rounded(conf, 2)}  # colour intensity: 1% steps suffice
        vals = _rounded(out[:, 0], 4)
        return {**base, "value": vals, "vmin": min(vals), "vmax": max(vals)}
    finally:
        model.train(was_training)


MATRIX_MAX = 1024  # send a dense layer's whole weight matrix when it has at most this many entries


@torch.no_grad()
def weight_summary(model: nn.Module, epoch: int) -> dict[str, Any]:
    """Per layer (child i of the model): mean |w| of its weight matrices, and small dense matrices whole."""
    layers = []
    for i, block in enumerate(model.children()):
        weights = [p for p in block.parameters() if p.dim() >= 2]
        entry: dict[str, Any] = {"index": i, "mean_abs": None}
        if weights:
            entry["mean_abs"] = round(float(sum(w.abs().sum() for w in weights) / sum(w.numel() for w in weights)), 5)
            first = weights[0]
            if first.dim() == 2 and len(weights) == 1 and first.numel() <= MATRIX_MAX:
                entry["matrix"] = [[round(v, 3) for v in row] for row in first.cpu().tolist()]  # (out, in)
        layers.append(entry)
    return {"epoch": epoch, "layers": layers}

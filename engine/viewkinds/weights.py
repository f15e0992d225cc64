"""The weights view: per layer, the mean |w| of its weight tensors, and small dense matrices whole."""

from __future__ import annotations

from typing import Any

from torch import nn

from ..views import View, ViewData, register_view

MATRIX_MAX = 1024  # send a dense layer's whole weight matrix when it has at most this many entries


def weight_summary(model: nn.Module, data: ViewData, epoch: int) -> dict[str, Any]:
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
    return {"layers": layers}


# Every model has weights; the page draws them on the network diagram, not in the Output panel.
register_view(View("weights", "Weights", lambda task, data: True, weight_summary))

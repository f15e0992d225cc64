"""Views of a classifier on its validation set: the confusion matrix (with per-class accuracy and the
most-confused pair) for any classification data, and the misclassified images for image data."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..views import View, ViewData, is_classifier, model_device, register_view, rounded

CHUNK = 4096  # rows per forward pass
STRIP = 12  # misclassified images sent at most


def _predict(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted class (N,), its probability (N,)) for every row, on the CPU."""
    device = model_device(model)
    probs = torch.cat([model(x[i:i + CHUNK].to(device)).softmax(dim=1).cpu()
                       for i in range(0, len(x), CHUNK)])  # (N, K)
    conf, pred = probs.max(dim=1)
    return pred, conf


def _classes(data: ViewData) -> int:
    return int(data.summary.n_classes or data.split.n_classes or 2)


def confusion_counts(y: torch.Tensor, pred: torch.Tensor, k: int) -> torch.Tensor:
    """(K, K) counts: row = true class, column = predicted class."""
    return torch.bincount(y * k + pred, minlength=k * k).reshape(k, k)


def take_confusion(model: nn.Module, data: ViewData, epoch: int) -> dict[str, Any]:
    """The validation confusion matrix, per-class accuracy and the most-confused pair in words."""
    k = _classes(data)
    y = data.split.y_val.reshape(-1).long()
    pred, _ = _predict(model, data.split.x_val)
    m = confusion_counts(y, pred, k)  # (K, K)
    support = m.sum(dim=1)  # (K,)
    acc = [round(float(m[c, c]) / int(support[c]), 4) if support[c] else None for c in range(k)]
    off = m.clone()
    off.fill_diagonal_(0)
    worst = int(off.argmax())
    t, p = divmod(worst, k)
    pair = None
    text = "No validation example is misclassified."
    if off[t, p] > 0:
        n = int(off[t, p])
        pair = {"true": t, "pred": p, "count": n}
        text = f"Most confused: {t} is taken for {p} ({n} time{'s' if n != 1 else ''})."
    return {"classes": k, "matrix": m.tolist(), "per_class_accuracy": acc,
            "accuracy": round(float(m.diag().sum()) / max(1, len(y)), 4), "most_confused": pair, "text": text}


def take_misclassified(model: nn.Module, data: ViewData, epoch: int) -> dict[str, Any]:
    """Up to STRIP validation images the model gets wrong, each with its true and predicted label."""
    x, y = data.split.x_val, data.split.y_val.reshape(-1).long()
    pred, conf = _predict(model, x)
    wrong = (pred != y).nonzero().reshape(-1)  # (W,) indices into the validation set
    items = [{"index": int(i), "true": int(y[i]), "pred": int(pred[i]), "conf": round(float(conf[i]), 3),
              "image": rounded(x[i, 0], 2)} for i in wrong[:STRIP]]  # x[i, 0]: (H, W), first channel
    return {"count": int(len(wrong)), "total": int(len(y)), "items": items}


def _classification(task: Any, data) -> bool:
    return is_classifier(task)


register_view(View("confusion", "Confusion matrix", _classification, take_confusion,
                   tasks=("classification",)))
register_view(View("misclassified", "Misclassified",
                   lambda task, data: _classification(task, data) and data.kind == "image",
                   take_misclassified, tasks=("classification",), data_kinds=("image",)))

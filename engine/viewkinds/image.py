"""A CNN's own views on image data: the first conv layer's filters, and a picked digit's feature maps."""

from __future__ import annotations

from typing import Any

from torch import nn

from ..views import View, ViewData, is_classifier, model_device, register_view, rounded

CHOICES = 16  # validation images offered as thumbnails to pick from (the pick's index is below this)
CONV = "conv2d"


def _conv_blocks(model: nn.Module, data: ViewData) -> list[int]:
    """Indices of the model's children that are conv2d layers (child i is model.layers[i])."""
    return [r.index for r in data.summary.rows if r.type == CONV and not r.is_head]


def _conv_of(block: nn.Module) -> nn.Conv2d:
    return next(m for m in block.modules() if isinstance(m, nn.Conv2d))


def take_filters(model: nn.Module, data: ViewData, epoch: int) -> dict[str, Any]:
    """The first conv layer's kernels, one k x k image each, on a scale symmetric about 0."""
    convs = _conv_blocks(model, data)
    if not convs:
        return {"layer": None, "filters": [], "vmax": 0.0}
    w = _conv_of(list(model.children())[convs[0]]).weight.detach().cpu()  # (F, C, k, k)
    # With several input channels a kernel is shown as its mean over them (one image per filter).
    img = w.mean(dim=1)  # (F, k, k)
    return {"layer": convs[0], "in_channels": int(w.shape[1]), "filters": rounded(img, 4),
            "vmax": round(float(img.abs().max()), 4)}


def _thumbs(data: ViewData) -> tuple[list, list]:
    x = data.split.x_val[:CHOICES, 0]  # (n, H, W): the first channel of each image
    return rounded(x, 2), data.split.y_val[:CHOICES].reshape(-1).tolist()


def take_feature_maps(model: nn.Module, data: ViewData, epoch: int) -> dict[str, Any]:
    """Each conv layer's activation maps (after its activation) for the picked validation image."""
    i = data.pick
    x = data.split.x_val[i:i + 1].to(model_device(model))  # (1, C, H, W)
    convs = set(_conv_blocks(model, data))
    layers = []
    h = x
    for j, block in enumerate(model.children()):
        h = block(h)
        if j in convs:
            maps = h[0].cpu()  # (F, H', W')
            layers.append({"index": j, "maps": rounded(maps, 3),
                           "vmin": round(float(maps.min()), 3), "vmax": round(float(maps.max()), 3)})
        if j >= max(convs, default=-1):
            break  # nothing after the last conv layer is drawn
    choices, labels = _thumbs(data)
    return {"index": i, "label": int(data.split.y_val[i]), "image": rounded(x[0, 0].cpu(), 2),
            "layers": layers, "choices": choices, "choice_labels": labels}


def _image_classification(task: Any, data) -> bool:
    return data.kind == "image" and is_classifier(task)


register_view(View("filters", "Filters", _image_classification, take_filters,
                   tasks=("classification",), data_kinds=("image",)))
register_view(View("feature_maps", "Feature maps", _image_classification, take_feature_maps,
                   tasks=("classification",), data_kinds=("image",), follows_pick=True))

"""Build the torch module of a spec: the hidden stack in order, then the head."""

from __future__ import annotations

import torch
from torch import nn

from .shapes import Summary, head_layer
from .spec import ExperimentSpec


def build_model(spec: ExperimentSpec, summary: Summary) -> nn.Sequential:
    """One child per layer (index i is model.layers[i]; the last child is the head)."""
    blocks = [layer.build(row.input_shape) for layer, row in zip(spec.model.layers, summary.rows)]
    head_row = summary.rows[-1]
    head = head_layer(summary.task, summary.n_classes).core(head_row.input_shape)
    if head_row.input_shape != stack_output(summary):  # a linear model on images: flatten first
        head = nn.Sequential(nn.Flatten(), head)  # (B, C, H, W) -> (B, C*H*W) -> (B, units)
    blocks.append(head)
    return nn.Sequential(*blocks)


def stack_output(summary: Summary) -> tuple[int, ...]:
    """The shape the hidden stack hands on: the input's when the stack is empty."""
    return summary.rows[-2].output_shape if len(summary.rows) > 1 else summary.input_shape


def penalized(model: nn.Module) -> list[torch.nn.Parameter]:
    """Parameters that l1/l2 apply to: weight matrices and kernels (dim >= 2), not biases or norms."""
    return [p for p in model.parameters() if p.dim() >= 2]

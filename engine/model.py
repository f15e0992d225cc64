"""Build the torch module of a spec: the family builds its stacks (see engine/family.py)."""

from __future__ import annotations

import torch
from torch import nn

from .family import FAMILIES
from .shapes import Summary
from .spec import ExperimentSpec


def build_model(spec: ExperimentSpec, summary: Summary) -> nn.Module:
    """The family's modules for `spec` (supervised: one child per layer, the head last)."""
    return FAMILIES.get(summary.task).build(spec, summary)


def stack_output(summary: Summary) -> tuple[int, ...]:
    """The shape the hidden stack hands on: the input's when the stack is empty."""
    return summary.rows[-2].output_shape if len(summary.rows) > 1 else summary.input_shape


def penalized(model: nn.Module) -> list[torch.nn.Parameter]:
    """Parameters that l1/l2 apply to: weight matrices and kernels (dim >= 2), not biases or norms."""
    return [p for p in model.parameters() if p.dim() >= 2]

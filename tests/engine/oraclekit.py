"""Pieces the oracle tests share: the plain PyTorch loops they write need the engine's dropout
masks and, for exact comparisons, float64 as torch's default dtype."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn


@contextlib.contextmanager
def default_float64() -> Iterator[None]:
    """torch's default dtype is float64 inside: tensors the engine creates round nothing."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


class PlainDropout(nn.Module):
    """Inverted dropout with its mask drawn from a given generator (the oracle protocol's step 3)."""

    def __init__(self, p: float, gen: torch.Generator) -> None:
        super().__init__()
        self.p, self.gen = p, gen

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        keep = torch.empty_like(x).bernoulli_(1.0 - self.p, generator=self.gen)
        return x * keep / (1.0 - self.p)

"""The 2-D targets of the generation family: `ring` (8 Gaussians on a circle) and `grid` (25 on a
5 x 5 lattice). Each point's label is the index of the Gaussian it was drawn from (the page colours
by it; the family ignores it). Both datasets know their modes, so that the generation family can
count how many of them a generator covers (engine/families/gan_metrics.py).

The spread of each Gaussian is fixed (SIGMA), not the spec's `noise`: mode coverage is measured in
units of it, and a ring whose modes overlap has no modes to cover.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from .data import Dataset, Shape, register
from .export_code import DATA_CODE


class _Modes(Dataset):
    """A mixture of equal Gaussians of standard deviation `sigma` around `centres()`."""

    task: ClassVar[str] = "generation"
    kind: ClassVar[str] = "2d"
    input_shape: ClassVar[Shape] = (2,)
    params: ClassVar[tuple[str, ...]] = ("n_samples",)
    default_samples: ClassVar[int] = 2000
    sigma: ClassVar[float]

    def centres(self) -> np.ndarray:
        """The modes' centres, (K, 2)."""
        raise NotImplementedError

    def modes(self) -> tuple[np.ndarray, float]:
        """(centres (K, 2), sigma): what mode coverage is counted against."""
        return self.centres(), self.sigma

    def generate(self, n, noise, rng):
        c = self.centres()
        y = (np.arange(n) % len(c)).astype(np.int64)  # balanced modes
        x = c[y] + rng.normal(0.0, self.sigma, (n, 2))
        return x, y


@register
class Ring(_Modes):
    name = "ring"
    label = "Ring"
    n_classes = 8
    sigma = 0.08
    description = "8 Gaussians (sigma 0.08) on a circle of radius 1: the classic mode-collapse test."

    def centres(self) -> np.ndarray:
        a = np.arange(8) * (2 * math.pi / 8)
        return np.stack([np.cos(a), np.sin(a)], axis=1)


@register
class Grid(_Modes):
    name = "grid"
    label = "Grid"
    n_classes = 25
    sigma = 0.05
    description = "25 Gaussians (sigma 0.05) on a 5 x 5 grid spanning [-1, 1]: harder to cover."

    def centres(self) -> np.ndarray:
        v = np.linspace(-1.0, 1.0, 5)
        xx, yy = np.meshgrid(v, v, indexing="ij")
        return np.stack([xx.reshape(-1), yy.reshape(-1)], axis=1)


# The exported script's copies of generate() (engine/export_code.py holds the other datasets').
_MODES_CODE = '''
def generate(n, noise, rng):
    """{doc}: x (N, 2), y (N,) the index of the Gaussian each point came from."""
    c = {centres}
    y = (np.arange(n) % len(c)).astype(np.int64)
    x = c[y] + rng.normal(0.0, {sigma!r}, (n, 2))
    return x, y
'''
DATA_CODE.register("ring", _MODES_CODE.format(
    doc="8 Gaussians on a circle", sigma=Ring.sigma,
    centres="np.stack([np.cos(np.arange(8) * (2 * math.pi / 8)), np.sin(np.arange(8) * (2 * math.pi / 8))], axis=1)"))
DATA_CODE.register("grid", _MODES_CODE.format(
    doc="25 Gaussians on a 5 x 5 grid", sigma=Grid.sigma,
    centres="np.stack([a.reshape(-1) for a in np.meshgrid(np.linspace(-1.0, 1.0, 5), np.linspace(-1.0, 1.0, 5), "
            "indexing='ij')], axis=1)"))

"""The built-in tabular and image datasets. Every dataset is generated offline and is
deterministic for a seed. The contract they implement is engine/data.py; engine/builtins.py
imports this module so that they register.

Toy inputs live in about [-1, 1]; `noise` is the standard deviation of the Gaussian
jitter (for classification, in units of half the data's radius; for regression, added
to the target).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

# The contract's names are re-exported: callers that read a Split or the registries from here keep working.
from .data import (DATASETS, SOURCE_FIELDS, SOURCES, DataInfo, Dataset, Shape, Source, Split,  # noqa: F401
                   build_split, data_info, find, known_names, preview, register, split_arrays, split_indices)


def _jitter(x: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    return x + rng.normal(0.0, 0.5 * noise, size=x.shape) if noise > 0 else x


def _balanced(n: int) -> np.ndarray:
    return (np.arange(n) % 2).astype(np.int64)


class _Toy2D(Dataset):
    task: ClassVar[str] = "classification"
    kind: ClassVar[str] = "2d"
    input_shape: ClassVar[Shape] = (2,)
    n_classes: ClassVar[int | None] = 2


@register
class Circle(_Toy2D):
    name = "circle"
    label = "Circle"
    description = "A disc inside a ring: not linearly separable."

    def generate(self, n, noise, rng):
        y = _balanced(n)
        radius = np.where(y == 0, rng.uniform(0.0, 0.5, n), rng.uniform(0.7, 1.0, n))
        angle = rng.uniform(0.0, 2 * math.pi, n)
        x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
        return _jitter(x, noise, rng), y


@register
class Xor(_Toy2D):
    name = "xor"
    label = "XOR"
    description = "Opposite quadrants share a class."

    def generate(self, n, noise, rng):
        x = rng.uniform(-1.0, 1.0, (n, 2))
        x += np.sign(x) * 0.05  # keep a margin off the axes
        y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
        return _jitter(x, noise, rng), y


@register
class Gaussians(_Toy2D):
    name = "gaussians"
    label = "Gaussians"
    description = "Two Gaussian blobs: linearly separable."

    def generate(self, n, noise, rng):
        y = _balanced(n)
        centre = np.where(y[:, None] == 0, -0.5, 0.5)
        x = centre + rng.normal(0.0, 0.25, (n, 2))
        return _jitter(x, noise, rng), y


@register
class Spiral(_Toy2D):
    name = "spiral"
    label = "Spiral"
    description = "Two interleaved spiral arms: the hard one."

    def generate(self, n, noise, rng):
        y = _balanced(n)
        t = rng.uniform(0.05, 1.0, n)
        angle = t * 3 * math.pi + y * math.pi
        x = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
        return _jitter(x, noise, rng), y


@register
class Moons(_Toy2D):
    name = "moons"
    label = "Moons"
    description = "Two interleaving half circles (scikit-learn's make_moons)."

    def generate(self, n, noise, rng):
        from sklearn.datasets import make_moons

        x, y = make_moons(n_samples=n, noise=0.0, random_state=int(rng.integers(2**31 - 1)))
        x = (x - np.array([0.5, 0.25])) * np.array([0.65, 1.0])  # centre on the origin, about [-1, 1]
        return _jitter(x, noise, rng), y.astype(np.int64)


class _Regression(Dataset):
    task: ClassVar[str] = "regression"


@register
class Sine(_Regression):
    name = "sine"
    label = "Sine"
    kind = "1d"
    input_shape = (1,)
    default_samples = 60
    description = "y = sin(3x) plus noise: the classic overfitting curve."

    def generate(self, n, noise, rng):
        x = rng.uniform(-1.0, 1.0, (n, 1))
        y = np.sin(3.0 * x[:, 0]) + rng.normal(0.0, noise, n)
        return x, y


@register
class Plane(_Regression):
    name = "plane"
    label = "Plane"
    kind = "2d"
    input_shape = (2,)
    description = "y = 0.6 x1 - 0.4 x2 plus noise: a linear model suffices."

    def generate(self, n, noise, rng):
        x = rng.uniform(-1.0, 1.0, (n, 2))
        y = 0.6 * x[:, 0] - 0.4 * x[:, 1] + rng.normal(0.0, noise, n)
        return x, y


@register
class Bumps(_Regression):
    name = "bumps"
    label = "Bumps"
    kind = "2d"
    input_shape = (2,)
    description = "Two Gaussian bumps of opposite sign plus noise."

    def generate(self, n, noise, rng):
        x = rng.uniform(-1.0, 1.0, (n, 2))
        d1 = np.sum((x - 0.4) ** 2, axis=1)
        d2 = np.sum((x + 0.4) ** 2, axis=1)
        y = np.exp(-d1 / 0.1) - np.exp(-d2 / 0.1) + rng.normal(0.0, noise, n)
        return x, y


@register
class Digits(Dataset):
    name = "digits"
    label = "Digits (8x8)"
    task = "classification"
    kind = "image"
    input_shape = (1, 8, 8)
    n_classes = 10
    params = ("n_samples",)
    default_samples = 1797
    max_samples = 1797
    description = "Handwritten digits, 8x8 pixels, 10 classes (scikit-learn's bundled copy)."

    def generate(self, n, noise, rng):
        from sklearn.datasets import load_digits

        bunch = load_digits()
        order = rng.permutation(len(bunch.target))[:n]
        x = bunch.images[order].reshape(-1, 1, 8, 8) / 16.0  # (N, 1, 8, 8) in [0, 1]
        return x, bunch.target[order].astype(np.int64)

"""Dataset registry. Every dataset is generated offline and is deterministic for a seed.

Toy inputs live in about [-1, 1]; `noise` is the standard deviation of the Gaussian
jitter (for classification, in units of half the data's radius; for regression, added
to the target).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from .errors import ErrorItem, SpecError, UnknownNameError
from .registry import Registry

Shape = tuple[int, ...]


@dataclass
class Split:
    """Tensors of a train/validation split, ready for the trainer."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    input_shape: Shape
    n_classes: int | None  # None for regression


@dataclass(frozen=True)
class DataInfo:
    """What a spec's data looks like before any of it exists: enough for shape inference and the head."""

    input_shape: Shape
    n_classes: int | None  # None for regression
    task: str  # the natural task
    kind: str  # "2d", "1d", "image" or "table": decides the page's preview and views


class Dataset:
    """A named generator of (X, y). Subclasses set the class attributes and `generate`."""

    name: ClassVar[str]
    label: ClassVar[str]
    task: ClassVar[str]  # the natural task: "classification" or "regression"
    kind: ClassVar[str]  # "2d", "1d" or "image": decides the page's preview and views
    input_shape: ClassVar[Shape]
    n_classes: ClassVar[int | None] = None
    params: ClassVar[tuple[str, ...]] = ("n_samples", "noise")
    default_samples: ClassVar[int] = 400
    max_samples: ClassVar[int | None] = None
    description: ClassVar[str] = ""

    # DataSpec fields that only some data takes (e.g. an upload's columns): those this one accepts.
    fields: ClassVar[tuple[str, ...]] = ()
    required: ClassVar[tuple[str, ...]] = ()

    def generate(self, n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Return X of shape (n, *input_shape) float and y of shape (n,)."""
        raise NotImplementedError

    def sample_count(self, data) -> int:
        """How many samples `data` (a DataSpec naming this dataset) draws: its n_samples or the
        default, at most max_samples."""
        n = data.n_samples if data.n_samples is not None else self.default_samples
        return n if self.max_samples is None else min(n, self.max_samples)

    def info(self, data) -> DataInfo:
        """The shape, classes, natural task and kind of `data` (a DataSpec naming this dataset)."""
        return DataInfo(tuple(self.input_shape), self.n_classes, self.task, self.kind)

    def task_problem(self, data, task: str, natural: str) -> str:
        """Why `task` does not fit this data (called only when it does not)."""
        return f"task {task!r} does not fit dataset {self.name!r}, which is a {natural} dataset"


class Source(Dataset):
    """Data that is supplied, not generated (an uploaded table): whoever runs the trainer hands it
    the Split (the server's split_provider). Its shape and classes come from the DataSpec alone."""

    kind: ClassVar[str] = "table"
    input_shape: ClassVar[Shape] = ()
    params: ClassVar[tuple[str, ...]] = ()

    def generate(self, n, noise, rng):
        raise SpecError([ErrorItem("data.dataset", f"{self.name!r} data is supplied by the server "
                                   "(an upload), not generated; train or preview it inside its session")])

    def info(self, data) -> DataInfo:
        raise NotImplementedError


DATASETS: Registry[Dataset] = Registry("dataset")
# Supplied data is kept apart from DATASETS, whose every entry can generate its data offline.
SOURCES: Registry[Source] = Registry("data source")
# The DataSpec fields that only some data takes; each dataset or source lists those it accepts.
SOURCE_FIELDS = ("upload", "features", "target", "n_classes")


def register(cls: type[Dataset]) -> type[Dataset]:
    DATASETS.register(cls.name, cls())
    return cls


def find(name: str) -> Dataset:
    """The registered dataset or data source called `name`; an unknown name's error lists both."""
    if name in SOURCES:
        return SOURCES.get(name)
    if name in DATASETS:
        return DATASETS.get(name)
    raise UnknownNameError(_unknown(name))


def check(name: str) -> str:
    """`name` if it is a dataset or data source, else ValueError listing them (for pydantic validators)."""
    if name not in known_names():
        raise ValueError(_unknown(name))
    return name


def _unknown(name: str) -> str:
    return f"unknown dataset {name!r}; valid: {', '.join(known_names())}"


def known_names() -> list[str]:
    return DATASETS.names() + SOURCES.names()


def data_info(data) -> DataInfo:
    """What `data` (a DataSpec) looks like, without generating or loading any of it."""
    return find(data.dataset).info(data)


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


def split_indices(n: int, val_fraction: float, train_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded shuffle, then validation first; only `train_fraction` of the rest is kept for training."""
    order = np.random.default_rng(seed + 1).permutation(n)
    n_val = min(max(1, round(n * val_fraction)), n - 1)
    val, train = order[:n_val], order[n_val:]
    keep = max(1, math.ceil(len(train) * train_fraction))
    return train[:keep], val


def build_split(data, task: str) -> Split:
    """Generate `data` (a DataSpec) and split it into tensors for `task`."""
    ds = find(data.dataset)
    n = ds.sample_count(data)
    x, y = ds.generate(n, data.noise, np.random.default_rng(data.seed))
    return split_arrays(x, y, data, task, tuple(ds.input_shape), ds.n_classes)


def split_arrays(x: np.ndarray, y: np.ndarray, data, task: str, input_shape: Shape,
                 n_classes: int | None) -> Split:
    """Split generated or supplied arrays (N, *input_shape) and (N,) by `data`'s fractions and seed."""
    train, val = split_indices(len(y), data.val_fraction, data.train_fraction, data.seed)
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    if task == "classification":
        yt = torch.as_tensor(np.asarray(y), dtype=torch.long)
        n_classes = n_classes or int(yt.max()) + 1
    else:
        yt = torch.as_tensor(np.asarray(y, dtype=np.float64), dtype=torch.float32).reshape(-1, 1)
        n_classes = None
    idx_t, idx_v = torch.as_tensor(train), torch.as_tensor(val)
    return Split(xt[idx_t], yt[idx_t], xt[idx_v], yt[idx_v], tuple(input_shape), n_classes)


def preview(data, task: str, max_points: int = 2000, max_images: int = 32, split: Split | None = None) -> dict:
    """What the page draws before and while training: the points (or sample images) of each split.
    Supplied data passes its `split`; generated data is generated here."""
    kind = data_info(data).kind
    split = split or build_split(data, task)

    def part(x: torch.Tensor, y: torch.Tensor) -> dict:
        x, y = x[:max_points], y[:max_points]
        return {"x": [[round(v, 4) for v in row] for row in x.reshape(len(x), -1).tolist()],
                "y": [round(v, 4) if isinstance(v, float) else v for v in y.reshape(-1).tolist()]}

    out = {"dataset": data.dataset, "kind": kind, "task": task, "n_classes": split.n_classes,
           "input_shape": list(split.input_shape), "n_train": len(split.y_train), "n_val": len(split.y_val)}
    if kind == "image":
        imgs = split.x_train[:max_images].reshape(-1, int(np.prod(split.input_shape)))  # (N, C*H*W)
        out["images"] = [[round(v, 3) for v in row] for row in imgs.tolist()]
        out["labels"] = split.y_train[:max_images].reshape(-1).tolist()
        return out
    out["train"] = part(split.x_train, split.y_train)
    out["val"] = part(split.x_val, split.y_val)
    return out


from . import csvdata  # noqa: E402,F401 - registers the 'csv' source

"""The data contract: what a dataset is, what it looks like before it exists, and how arrays become
a train/validation Split. Built-in datasets (engine/datasets.py, engine/sequences.py) and supplied
data (engine/csvdata.py) all build on this module; none of them imports another, and
engine/builtins.py is the one place that imports them so that they register.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from .errors import ErrorItem, SpecError, UnknownNameError
from .family import FAMILIES
from .registry import Registry

Shape = tuple[int, ...]


@dataclass
class Split:
    """Tensors of a train/validation split, ready for the trainer."""

    x_train: torch.Tensor  # (N, *input_shape) float32
    y_train: torch.Tensor  # (N,) long class indices, or (N, H) float32 targets
    x_val: torch.Tensor
    y_val: torch.Tensor
    input_shape: Shape
    n_classes: int | None  # None for regression and forecasting


@dataclass(frozen=True)
class DataInfo:
    """What a spec's data looks like before any of it exists: enough for shape inference and the head."""

    input_shape: Shape
    n_classes: int | None  # None for regression and forecasting
    task: str  # the natural task
    kind: str  # "2d", "1d", "image", "table" or "sequence": decides the page's preview and views
    target_dim: int = 1  # width H of a float target (N, H): a forecast's horizon


class Dataset:
    """A named generator of (X, y). Subclasses set the class attributes and `generate`."""

    name: ClassVar[str]
    label: ClassVar[str]
    task: ClassVar[str]  # the natural task: "classification", "regression" or "forecasting"
    kind: ClassVar[str]  # "2d", "1d", "image", "table" or "sequence": the page's preview and views
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

    def split(self, data, task: str) -> "Split":
        """Generate `data` (a DataSpec naming this dataset) and split it for `task`. Data whose
        rows overlap (a sequence's windows) overrides this to keep validation apart."""
        n = self.sample_count(data)
        x, y = self.generate(n, data.noise, np.random.default_rng(data.seed))
        info = self.info(data)
        return split_arrays(x, y, data, task, tuple(info.input_shape), info.n_classes)

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

    def split(self, data, task: str) -> "Split":
        return self.generate(0, 0.0, np.random.default_rng(0))  # raises: the server supplies the Split


DATASETS: Registry[Dataset] = Registry("dataset")
# Supplied data is kept apart from DATASETS, whose every entry can generate its data offline.
SOURCES: Registry[Source] = Registry("data source")
# The DataSpec fields that only some data takes; each dataset or source lists those it accepts.
SOURCE_FIELDS = ("upload", "features", "target", "n_classes")
SEQUENCE_FIELDS = ("window", "horizon")
OPTIONAL_FIELDS = SOURCE_FIELDS + SEQUENCE_FIELDS


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


def split_indices(n: int, val_fraction: float, train_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded shuffle, then validation first; only `train_fraction` of the rest is kept for training."""
    order = np.random.default_rng(seed + 1).permutation(n)
    n_val = min(max(1, round(n * val_fraction)), n - 1)
    val, train = order[:n_val], order[n_val:]
    keep = max(1, math.ceil(len(train) * train_fraction))
    return train[:keep], val


def build_split(data, task: str) -> Split:
    """Generate `data` (a DataSpec) and split it into tensors for `task`."""
    return find(data.dataset).split(data, task)


def split_arrays(x: np.ndarray, y: np.ndarray, data, task: str, input_shape: Shape,
                 n_classes: int | None) -> Split:
    """Split generated or supplied arrays (N, *input_shape) and (N,) or (N, H) by `data`'s fractions and seed."""
    train, val = split_indices(len(y), data.val_fraction, data.train_fraction, data.seed)
    xt, yt, n_classes = to_tensors(x, y, task, n_classes)
    idx_t, idx_v = torch.as_tensor(train), torch.as_tensor(val)
    return Split(xt[idx_t], yt[idx_t], xt[idx_v], yt[idx_v], tuple(input_shape), n_classes)


def to_tensors(x: np.ndarray, y: np.ndarray, task: str,
               n_classes: int | None) -> tuple[torch.Tensor, torch.Tensor, int | None]:
    """x as float32; y as the task's target kind: long class indices (N,), or float32 (N, H)."""
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    if FAMILIES.get(task).target == "class":
        yt = torch.as_tensor(np.asarray(y), dtype=torch.long)
        return xt, yt, n_classes or int(yt.max()) + 1
    yt = torch.as_tensor(np.asarray(y, dtype=np.float64), dtype=torch.float32).reshape(len(y), -1)
    return xt, yt, None


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
    if kind == "sequence":
        return {**out, **sequence_preview(split)}
    if kind == "image":
        imgs = split.x_train[:max_images].reshape(-1, int(np.prod(split.input_shape)))  # (N, C*H*W)
        out["images"] = [[round(v, 3) for v in row] for row in imgs.tolist()]
        out["labels"] = split.y_train[:max_images].reshape(-1).tolist()
        return out
    out["train"] = part(split.x_train, split.y_train)
    out["val"] = part(split.x_val, split.y_val)
    return out




def sequence_preview(split: Split, max_windows: int = 8) -> dict:
    """A few validation windows (T,) with the values that follow them (H,), for the page's plot."""
    xs = split.x_val[:max_windows, :, 0]  # (W, T, 1) -> (W, T)
    ys = split.y_val[:max_windows]  # (W, H)
    return {"windows": [[round(v, 4) for v in row] for row in xs.tolist()],
            "targets": [[round(v, 4) for v in row] for row in ys.tolist()]}

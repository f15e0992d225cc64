"""Sequence datasets for forecasting: windows of a series (T, 1) and the H values that follow.

Each split is cut from its own series, drawn from its own seeded stream, so that no validation
window overlaps a training one (sliding windows of one series would leak). `noise` is the
standard deviation of Gaussian noise added to the series, in units of half its amplitude, as the
classification datasets' jitter is.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from .data import Dataset, DataInfo, Shape, Split, register, to_tensors

DEFAULT_WINDOW = 30
DEFAULT_HORIZON = 1
SERIES_LENGTH = 120  # steps per series; each gives SERIES_LENGTH - window - horizon + 1 windows


class SequenceDataset(Dataset):
    """A family of random series; subclasses draw one series of `length` steps in `series`."""

    task: ClassVar[str] = "forecasting"
    kind: ClassVar[str] = "sequence"
    input_shape: ClassVar[Shape] = (DEFAULT_WINDOW, 1)
    params: ClassVar[tuple[str, ...]] = ("n_samples", "noise", "window", "horizon")
    fields: ClassVar[tuple[str, ...]] = ("window", "horizon")
    default_samples: ClassVar[int] = 1000  # windows, split between train and validation

    def series(self, length: int, rng: np.random.Generator) -> np.ndarray:
        """One clean series of shape (length,), amplitude about 1."""
        raise NotImplementedError

    @staticmethod
    def shape_of(data) -> tuple[int, int]:
        """(window, horizon) of a DataSpec, defaults filled in."""
        return (data.window or DEFAULT_WINDOW, data.horizon or DEFAULT_HORIZON)

    def info(self, data) -> DataInfo:
        window, horizon = self.shape_of(data)
        return DataInfo((window, 1), None, self.task, self.kind, target_dim=horizon)

    def windows(self, n: int, window: int, horizon: int, noise: float,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """n windows (n, window, 1) and their next values (n, horizon), from as many series as it takes."""
        length = max(SERIES_LENGTH, window + horizon + 10)
        per = length - window - horizon + 1
        xs, ys = [], []
        for _ in range(math.ceil(n / per)):
            s = self.series(length, rng)
            if noise > 0:
                s = s + rng.normal(0.0, 0.5 * noise, size=s.shape)
            idx = np.arange(per)[:, None]
            xs.append(s[idx + np.arange(window)])  # (per, window)
            ys.append(s[idx + window + np.arange(horizon)])  # (per, horizon)
        return np.concatenate(xs)[:n, :, None], np.concatenate(ys)[:n]

    def generate(self, n, noise, rng):
        return self.windows(n, DEFAULT_WINDOW, DEFAULT_HORIZON, noise, rng)

    def split(self, data, task: str) -> Split:
        window, horizon = self.shape_of(data)
        n = self.sample_count(data)
        n_val = min(max(1, round(n * data.val_fraction)), n - 1)
        n_train = max(1, math.ceil((n - n_val) * data.train_fraction))
        # Two streams of one seed: the validation series are never the training ones.
        xt, yt = self.windows(n_train, window, horizon, data.noise, np.random.default_rng([data.seed, 0]))
        xv, yv = self.windows(n_val, window, horizon, data.noise, np.random.default_rng([data.seed, 1]))
        x_train, y_train, _ = to_tensors(xt, yt, task, None)
        x_val, y_val, _ = to_tensors(xv, yv, task, None)
        return Split(x_train, y_train, x_val, y_val, (window, 1), None)


@register
class Sines(SequenceDataset):
    name = "sequences"
    label = "Sequences"
    description = "Sums of two or three sines, random frequency and phase, plus noise: forecast the next value."

    def series(self, length, rng):
        t = np.arange(length)
        k = int(rng.integers(2, 4))
        freq = rng.uniform(0.02, 0.1, k)  # cycles per step
        phase = rng.uniform(0.0, 2 * math.pi, k)
        amp = rng.uniform(0.5, 1.0, k)
        s = (amp[:, None] * np.sin(2 * math.pi * freq[:, None] * t + phase[:, None])).sum(0)  # (length,)
        return s / amp.sum()


@register
class Square(SequenceDataset):
    name = "square"
    label = "Square wave"
    description = ("A square wave of random period and phase: flat stretches, then a jump that only a model "
                   "which counts the steps since the last edge can foresee.")

    def series(self, length, rng):
        t = np.arange(length)
        period = int(rng.integers(10, 25))
        phase = int(rng.integers(0, period))
        return np.where(((t + phase) % period) < period // 2, 1.0, -1.0)

"""Every registered dataset: deterministic for a seed, the documented shapes and classes, and splits
that honour val_fraction and train_fraction."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.datasets import DATASETS, build_split, split_indices
from engine.spec import DataSpec

NAMES = DATASETS.names()


def _generate(name: str, seed: int, n: int = 50, noise: float = 0.2):
    return DATASETS.get(name).generate(n, noise, np.random.default_rng(seed))


def test_the_built_in_datasets_are_registered():
    assert {"circle", "xor", "gaussians", "spiral", "moons", "sine", "plane", "bumps", "digits",
            "sequences", "square"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_arrays(name):
    x1, y1 = _generate(name, 5)
    x2, y2 = _generate(name, 5)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)


@pytest.mark.parametrize("name", NAMES)
def test_different_seed_different_arrays(name):
    x1, _ = _generate(name, 5)
    x2, _ = _generate(name, 6)
    assert not np.array_equal(x1, x2)


@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_labels(name):
    ds = DATASETS.get(name)
    x, y = _generate(name, 1, n=40)
    assert x.shape == (40, *ds.input_shape)
    assert y.shape == ((40, 1) if ds.kind == "sequence" else (40,))  # a forecast's (N, horizon)
    assert np.isfinite(x).all() and np.isfinite(y).all()
    if ds.n_classes is not None:  # classes, or a GAN target's mode labels (ring, grid)
        assert np.issubdtype(y.dtype, np.integer)
        assert set(np.unique(y)) <= set(range(ds.n_classes))
        assert len(np.unique(y)) >= 2
    else:
        assert ds.n_classes is None and ds.task in ("regression", "forecasting")
        assert np.issubdtype(y.dtype, np.floating) and y.std() > 0


# GAN targets are excluded: ring's modes sit on the unit circle itself, so half its points lie just outside.
@pytest.mark.parametrize("name", [n for n in NAMES if DATASETS.get(n).kind == "2d" and DATASETS.get(n).task != "generation"])
def test_toy_inputs_lie_in_about_the_unit_square(name):
    x, _ = _generate(name, 2, n=400, noise=0.0)
    assert (np.abs(x) <= 1.0).mean() >= 0.95  # Gaussian blobs have tails; most points stay inside
    assert np.abs(x).max() <= 2.0


def test_two_class_toys_are_balanced():
    for name in ("circle", "gaussians", "spiral"):
        _, y = _generate(name, 0, n=100)
        assert np.bincount(y).tolist() == [50, 50], name


def test_noise_moves_the_points():
    clean, _ = _generate("circle", 4, n=200, noise=0.0)
    noisy, _ = _generate("circle", 4, n=200, noise=0.5)
    radius = np.hypot(clean[:, 0], clean[:, 1])
    assert radius.max() <= 1.0 + 1e-12  # noise 0: the ring ends at radius 1
    assert np.abs(noisy - clean).mean() > 0.05


def test_regression_targets_follow_their_formulas_without_noise():
    x, y = _generate("sine", 3, n=30, noise=0.0)
    np.testing.assert_allclose(y, np.sin(3 * x[:, 0]))
    x, y = _generate("plane", 3, n=30, noise=0.0)
    np.testing.assert_allclose(y, 0.6 * x[:, 0] - 0.4 * x[:, 1])


def test_digits_are_eight_by_eight_images_in_unit_range_and_capped():
    spec = DataSpec(dataset="digits", n_samples=5000, val_fraction=0.25)
    split = build_split(spec, "classification")
    n = len(split.y_train) + len(split.y_val)
    assert n == 1797  # the bundled copy's size caps the request
    assert split.x_train.shape[1:] == (1, 8, 8)
    assert 0.0 <= float(split.x_train.min()) and float(split.x_train.max()) <= 1.0
    assert sorted(torch.cat([split.y_train, split.y_val]).unique().tolist()) == list(range(10))


@pytest.mark.parametrize("name", NAMES)
def test_build_split_tensors(name):
    ds = DATASETS.get(name)
    split = build_split(DataSpec(dataset=name, n_samples=60, val_fraction=0.25, seed=9), ds.task)
    assert len(split.x_train) == 45 and len(split.x_val) == 15
    assert split.x_train.dtype == torch.float32
    assert split.input_shape == tuple(ds.input_shape)
    if ds.n_classes is not None:  # classes, or a GAN target's mode labels
        assert split.y_train.dtype == torch.long and split.n_classes == ds.n_classes
    else:
        assert split.y_train.shape == (45, 1) and split.y_train.dtype == torch.float32
        assert split.n_classes is None


# Expected val sizes worked by hand: round(n * frac), at least 1 and at most n - 1 (10 * 0.05 = 0.5 rounds to 0).
@pytest.mark.parametrize("n,val_fraction,n_val",
                         [(100, 0.3, 30), (101, 0.3, 30), (10, 0.05, 1), (10, 0.9, 9), (400, 0.5, 200)])
def test_split_sizes_respect_val_fraction(n, val_fraction, n_val):
    train, val = split_indices(n, val_fraction, 1.0, seed=0)
    assert len(val) == n_val
    assert len(train) + len(val) == n
    assert len(set(train.tolist()) | set(val.tolist())) == n  # disjoint and complete


def test_split_is_seeded():
    a = split_indices(100, 0.3, 1.0, seed=1)
    b = split_indices(100, 0.3, 1.0, seed=1)
    c = split_indices(100, 0.3, 1.0, seed=2)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5, 0.999])
def test_train_fraction_takes_a_subset_of_the_train_split(fraction):
    full = DataSpec(dataset="circle", n_samples=200, val_fraction=0.3, seed=4)
    part = full.model_copy(update={"train_fraction": fraction})
    a, b = build_split(full, "classification"), build_split(part, "classification")
    assert len(b.x_train) == math.ceil(140 * fraction)
    # The validation split is untouched, and the training rows are a prefix of the full ones.
    assert torch.equal(a.x_val, b.x_val) and torch.equal(a.y_val, b.y_val)
    assert torch.equal(a.x_train[:len(b.x_train)], b.x_train)


def test_data_seed_changes_the_split_and_the_points():
    a = build_split(DataSpec(dataset="spiral", n_samples=80, seed=1), "classification")
    b = build_split(DataSpec(dataset="spiral", n_samples=80, seed=2), "classification")
    assert not torch.equal(a.x_train, b.x_train)


def test_default_sample_count_is_used_when_none_is_given():
    split = build_split(DataSpec(dataset="sine"), "regression")
    assert len(split.x_train) + len(split.x_val) == DATASETS.get("sine").default_samples

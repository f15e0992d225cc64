"""Shared fixtures for the engine tests: a spec builder, so each test states only what it varies."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from engine.spec import ExperimentSpec, merge_patch, parse_spec

# A small, fast default: 100 circle points, a 2-8-8 tanh stack, a handful of epochs.
BASE_SPEC: dict[str, Any] = {
    "data": {"dataset": "circle", "n_samples": 100, "noise": 0.1, "seed": 3},
    "model": {"layers": [{"type": "dense", "units": 8, "activation": "tanh"},
                         {"type": "dense", "units": 8, "activation": "tanh"}]},
    "training": {"optimizer": "sgd", "lr": 0.1, "batch_size": 10, "epochs": 5, "seed": 11,
                 "device": "cpu"},
}


@pytest.fixture
def make_spec() -> Callable[..., ExperimentSpec]:
    """make_spec(patch) -> a validated spec: BASE_SPEC with a JSON merge patch applied."""

    def build(patch: dict[str, Any] | None = None) -> ExperimentSpec:
        return parse_spec(merge_patch(BASE_SPEC, patch or {}))

    return build

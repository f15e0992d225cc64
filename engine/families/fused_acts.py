"""The registered activations in numpy, each with the derivative that torch's autograd uses.

`forward(z) -> a` and `grad(z, a, g) -> dL/dz` for g = dL/da, both on float arrays; each formula is
the one of torch's own backward kernel (relu uses its output, leaky_relu its input, softplus its
threshold), so the fused stepper's gradients are autograd's, not a textbook approximation.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np
import torch

Array = np.ndarray


class Act(NamedTuple):
    forward: Callable[[Array], Array]
    grad: Callable[[Array, Array, Array], Array]  # (z, a, dL/da) -> dL/dz


def _sigmoid(z: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-z))


def _gelu(z: Array) -> Array:
    # numpy has no erf; torch's on a shared view is one call (docs: torch.from_numpy shares memory).
    return 0.5 * z * (1.0 + torch.special.erf(torch.from_numpy(z * (1.0 / math.sqrt(2.0)))).numpy())


def _gelu_grad(z: Array, a: Array, g: Array) -> Array:
    cdf = 0.5 * (1.0 + torch.special.erf(torch.from_numpy(z * (1.0 / math.sqrt(2.0)))).numpy())
    pdf = np.exp(-0.5 * z * z) * (1.0 / math.sqrt(2.0 * math.pi))
    return g * (cdf + z * pdf)


def _silu_grad(z: Array, a: Array, g: Array) -> Array:
    s = _sigmoid(z)
    return g * (s * (1.0 + z * (1.0 - s)))


SOFTPLUS_THRESHOLD = 20.0  # nn.Softplus's default: above it, softplus(x) = x


def _softplus(z: Array) -> Array:
    return np.where(z > SOFTPLUS_THRESHOLD, z, np.log1p(np.exp(np.minimum(z, SOFTPLUS_THRESHOLD))))


def _softplus_grad(z: Array, a: Array, g: Array) -> Array:
    e = np.exp(np.minimum(z, SOFTPLUS_THRESHOLD))
    return np.where(z > SOFTPLUS_THRESHOLD, g, g * e / (e + 1.0))


ACTS: dict[str, Act] = {
    "linear": Act(lambda z: z, lambda z, a, g: g),
    "tanh": Act(np.tanh, lambda z, a, g: g * (1.0 - a * a)),
    "sigmoid": Act(_sigmoid, lambda z, a, g: g * ((1.0 - a) * a)),
    "relu": Act(lambda z: np.maximum(z, 0.0), lambda z, a, g: g * (a > 0)),
    "leaky_relu": Act(lambda z: np.where(z > 0, z, z * 0.01), lambda z, a, g: np.where(z > 0, g, g * 0.01)),
    "elu": Act(lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
               lambda z, a, g: np.where(z > 0, g, g * np.exp(np.minimum(z, 0.0)))),
    "silu": Act(lambda z: z * _sigmoid(z), _silu_grad),
    "softplus": Act(_softplus, _softplus_grad),
    "gelu": Act(_gelu, _gelu_grad),
}

"""Activation registry: name -> nn.Module factory. `linear` is the identity."""

from __future__ import annotations

from typing import Callable

from torch import nn

from .registry import Registry

ACTIVATIONS: Registry[Callable[[], nn.Module]] = Registry("activation")

ACTIVATIONS.register("relu", nn.ReLU)
ACTIVATIONS.register("leaky_relu", lambda: nn.LeakyReLU(0.01))
ACTIVATIONS.register("elu", nn.ELU)
ACTIVATIONS.register("gelu", nn.GELU)
ACTIVATIONS.register("silu", nn.SiLU)
ACTIVATIONS.register("sigmoid", nn.Sigmoid)
ACTIVATIONS.register("tanh", nn.Tanh)
ACTIVATIONS.register("softplus", nn.Softplus)
ACTIVATIONS.register("linear", nn.Identity)

LABELS = {
    "relu": "ReLU", "leaky_relu": "LeakyReLU", "elu": "ELU", "gelu": "GELU", "silu": "SiLU",
    "sigmoid": "Sigmoid", "tanh": "Tanh", "softplus": "Softplus", "linear": "Linear",
}


def make_activation(name: str) -> nn.Module:
    """Build the activation module registered under `name`."""
    return ACTIVATIONS.get(name)()

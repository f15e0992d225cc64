"""Optimizer registry: name -> factory(params, lr). Regularisation is added to the loss, not here."""

from __future__ import annotations

from typing import Callable, Iterable

import torch

from .registry import Registry

OptimizerFactory = Callable[[Iterable[torch.nn.Parameter], float], torch.optim.Optimizer]

OPTIMIZERS: Registry[OptimizerFactory] = Registry("optimizer")

OPTIMIZERS.register("sgd", lambda params, lr: torch.optim.SGD(params, lr=lr))
OPTIMIZERS.register("momentum", lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9))
OPTIMIZERS.register("adam", lambda params, lr: torch.optim.Adam(params, lr=lr))
OPTIMIZERS.register("adamw", lambda params, lr: torch.optim.AdamW(params, lr=lr, weight_decay=0.0))
OPTIMIZERS.register("rmsprop", lambda params, lr: torch.optim.RMSprop(params, lr=lr))
OPTIMIZERS.register("adagrad", lambda params, lr: torch.optim.Adagrad(params, lr=lr))

LABELS = {"sgd": "SGD", "momentum": "SGD + momentum 0.9", "adam": "Adam", "adamw": "AdamW",
          "rmsprop": "RMSprop", "adagrad": "Adagrad"}

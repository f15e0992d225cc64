"""The digits autoencoder (batch 64) against a plain PyTorch autoencoder loop doing the same work.

Both sides train the same encoder and decoder (64-32-2 and 2-32-64, ReLU) from the same seeds on
the same digits split, one thread: per batch the MSE of the reconstruction against the clean input,
once per epoch the validation MSE. The plain loop is written as a user would (nn.MSELoss,
zero_grad, the loss kept as a tensor so it syncs once an epoch); `Trainer.run()` also takes the
views (Reconstructions, Latent space, Latent walk) within their time budget. The two loops do the
same arithmetic, so the last validation loss must agree to 1e-5 (tests/engine/test_reconstruction.py
holds them equal epoch by epoch).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn

from bench.engine_bench import REPEATS, clock, table
from engine.spec import ExperimentSpec, parse_spec
from engine.trainer import Trainer

UNITS = 32


def _spec() -> ExperimentSpec:
    return parse_spec({"task": "reconstruction", "data": {"dataset": "digits"},
                       "model": {"latent_dim": 2,
                                 "encoder": {"layers": [{"type": "flatten"},
                                                        {"type": "dense", "units": UNITS, "activation": "relu"}]},
                                 "decoder": {"layers": [{"type": "dense", "units": UNITS, "activation": "relu"}]}},
                       "training": {"optimizer": "adam", "lr": 0.005, "batch_size": 64, "epochs": 30,
                                    "device": "cpu"}})


def plain(spec: ExperimentSpec, split) -> tuple[float, float]:
    """A textbook autoencoder loop; (CPU seconds, the last epoch's validation MSE)."""
    t, k = spec.training, spec.model.latent_dim
    torch.manual_seed(t.seed)
    enc = nn.Sequential(nn.Flatten(), nn.Linear(64, UNITS), nn.ReLU(), nn.Linear(UNITS, k))
    dec = nn.Sequential(nn.Linear(k, UNITS), nn.ReLU(), nn.Linear(UNITS, 64), nn.Unflatten(1, (1, 8, 8)))
    model = nn.Sequential(enc, dec)
    opt = torch.optim.Adam(model.parameters(), lr=t.lr)
    mse = nn.MSELoss()
    shuffle = torch.Generator().manual_seed(t.seed)
    x, xv = split.x_train, split.x_val
    n, bs = len(x), t.batch_size
    val = math.nan
    start = clock()
    for _ in range(t.epochs):
        model.train()
        order = torch.randperm(n, generator=shuffle)
        total = torch.zeros(())
        for i in range(0, n, bs):
            xb = x[order[i:i + bs]]
            loss = mse(model(xb), xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.detach() * len(xb)
        total.item()  # the epoch's mean, one sync
        model.eval()
        with torch.no_grad():
            val = float(mse(model(xv), xv))
    return clock() - start, val


def engine_steps(spec: ExperimentSpec) -> tuple[float, float]:
    trainer = Trainer(spec)
    start = clock()
    for _ in range(spec.training.epochs):
        trainer.step()
    return clock() - start, trainer.history["val_loss"][-1]


def engine_run(spec: ExperimentSpec) -> tuple[float, float]:
    trainer = Trainer(spec)
    events: list = []
    start = clock()
    trainer.run(emit=events.append)
    elapsed = clock() - start
    assert any(getattr(e, "kind", None) == "reconstructions" for e in events)  # the views did update
    return elapsed, trainer.history["val_loss"][-1]


def measure(spec: ExperimentSpec) -> dict[str, Any]:
    split = Trainer(spec).split
    steps = spec.training.epochs * math.ceil(len(split.x_train) / spec.training.batch_size)
    sides: dict[str, Callable[[], tuple[float, float]]] = {
        "plain": lambda: plain(spec, split), "step": lambda: engine_steps(spec), "run": lambda: engine_run(spec)}
    best = {k: math.inf for k in sides}
    val: dict[str, float] = {}
    for r in range(REPEATS):
        keys = list(sides)
        for k in keys[r % 3:] + keys[:r % 3]:  # rotate the order so no side always runs first
            seconds, val[k] = sides[k]()
            best[k] = min(best[k], seconds)
    same = all(abs(val[k] - val["plain"]) <= 1e-5 * abs(val["plain"]) for k in val)
    return {"name": "digits AE 64-32-2-32-64, batch 64", "steps": steps, "same": same,
            **{k: steps / best[k] for k in sides}}


def main() -> None:
    torch.set_num_threads(1)
    print(f"Autoencoder engine vs plain PyTorch: steps per CPU second, best of {REPEATS}, 1 thread, "
          f"torch {torch.__version__}")
    print(table([measure(_spec())]))

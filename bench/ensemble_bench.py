"""K-seed ensembles (training.seeds, issue 16) against a single run of the same net, in one process.

The goal row: K = 8 copies of 2-8-8 tanh on circle (SGD, lr 0.03, batch 10, 250 training points),
which the fused path trains in one batched matmul per layer. A single run's epochs per second on
the same net is measured beside it, interleaved, best of REPEATS; the ensemble must keep at least
half of it (at least 4x the models per second of training the seeds one by one). The plain PyTorch
loop of one model is printed as the reference a user would write. The last row is a stack the
batched path does not take (dropout): its members train in turn, about K times slower, as the
engine path says.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from engine.spec import parse_spec
from engine.trainer import Trainer

from .engine_bench import clock
from .fused_bench import N_SAMPLES, plain_torch

REPEATS = 5
K = 8
GOAL = 0.5  # the ensemble's epochs/s over a single run's
EPOCHS = 150


def raw(hidden: list[int], seeds: int, dropout: float = 0.0) -> dict[str, Any]:
    layers: list[dict[str, Any]] = []
    for u in hidden:
        layers.append({"type": "dense", "units": u, "activation": "tanh"})
        if dropout:
            layers.append({"type": "dropout", "p": dropout})
    return {"data": {"dataset": "circle", "n_samples": N_SAMPLES, "noise": 0.1},
            "model": {"layers": layers},
            "training": {"optimizer": "sgd", "lr": 0.03, "batch_size": 10, "epochs": EPOCHS, "device": "cpu",
                         "seeds": seeds}}


def steps(spec_raw: dict[str, Any], epochs: int) -> float:
    """Seconds for `epochs` Trainer.step() calls (the training core, with evaluation)."""
    trainer = Trainer(parse_spec(spec_raw))
    start = clock()
    for _ in range(epochs):
        trainer.step()
    return clock() - start


def measure(name: str, hidden: list[int], dropout: float = 0.0) -> dict[str, Any]:
    single, ens = raw(hidden, 1, dropout), raw(hidden, K, dropout)
    epochs = EPOCHS if not dropout else EPOCHS // 5
    sides = {"single": lambda: steps(single, epochs), "ensemble": lambda: steps(ens, epochs),
             "torch": lambda: plain_torch(Trainer(parse_spec({**single, "training": {**single["training"],
                                                                                   "epochs": epochs}})))}
    best = {k: math.inf for k in sides}
    for r in range(REPEATS):
        keys = list(sides)
        for k in keys[r % len(keys):] + keys[:r % len(keys)]:
            best[k] = min(best[k], sides[k]())
    rates = {k: epochs / v for k, v in best.items()}
    return {"name": name, "engine": Trainer(parse_spec(ens)).engine, **rates,
            "ratio": rates["ensemble"] / rates["single"]}


def main() -> bool:
    torch.set_num_threads(1)
    print(f"ensembles of K = {K}: epochs per CPU second of Trainer.step(), best of {REPEATS}, 1 thread, "
          f"torch {torch.__version__}")
    rows = [measure("2-8-8 tanh, batch 10 (goal)", [8, 8]),
            measure("2-16-16 tanh, batch 10", [16, 16]),
            measure("2-8-8 tanh + dropout 0.1 (looped)", [8, 8], dropout=0.1)]
    head = (f"{'workload':<36}{'engine path':>13}{'torch x1':>10}{'single':>9}{f'K={K}':>9}"
            f"{'K/single':>10}{'models/s':>10}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['name']:<36}{r['engine']:>13}{r['torch']:>10,.0f}{r['single']:>9,.0f}{r['ensemble']:>9,.0f}"
              f"{r['ratio']:>10.2f}{K * r['ratio']:>9.1f}x")
    goal = rows[0]["ratio"] >= GOAL
    print(f"goal: K = {K} at >= {GOAL}x a single run's epochs/s: {rows[0]['ratio']:.2f}x, "
          f"{K * rows[0]['ratio']:.1f}x the models per second -> {'met' if goal else 'MISSED'}")
    return goal


if __name__ == "__main__":
    main()

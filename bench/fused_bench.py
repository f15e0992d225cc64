"""The fused dense path (issue 16) against a plain PyTorch loop and a hand-written numpy loop.

All three train the same tiny tanh nets with SGD, lr 0.03, on 250 circle points, and evaluate the
validation split once per epoch. The engine side is `Trainer.step()` (the training core) and
`Trainer.run()` (what the server runs: controls, events, diagnosis, view snapshots). Figures are
epochs per CPU second of this one thread, best of REPEATS, interleaved. The numpy loop is the limit
reference: the arithmetic with no framework at all, written as a user would write it.

The last rows are nets outside the fused path (digits MLP and CNN): there the engine must stay at
the plain loop's speed, as bench/engine_bench.py shows in more detail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch import nn

from engine.spec import ExperimentSpec, parse_spec
from engine.trainer import Trainer

from .engine_bench import clock

REPEATS = 5
N_SAMPLES = 357  # 250 training points after the default 30% validation split


@dataclass
class Case:
    name: str
    hidden: list[int]
    batch: int
    epochs: int
    raw: Optional[dict[str, Any]] = None  # a whole spec instead (the nets outside the fused path)

    def spec(self) -> ExperimentSpec:
        return parse_spec(self.raw or {
            "data": {"dataset": "circle", "n_samples": N_SAMPLES, "noise": 0.1},
            "model": {"layers": [{"type": "dense", "units": u, "activation": "tanh"} for u in self.hidden]},
            "training": {"optimizer": "sgd", "lr": 0.03, "batch_size": self.batch, "epochs": self.epochs,
                         "device": "cpu"}})


DIGITS_MLP = {"data": {"dataset": "digits"},
              "model": {"layers": [{"type": "flatten"}, {"type": "dense", "units": 128},
                                   {"type": "dense", "units": 64}]},
              "training": {"optimizer": "sgd", "lr": 0.03, "batch_size": 64, "epochs": 6, "device": "cpu"}}
DIGITS_CNN = {"data": {"dataset": "digits"},
              "model": {"layers": [{"type": "conv2d", "filters": 8, "kernel_size": 3}, {"type": "maxpool2d"},
                                   {"type": "flatten"}, {"type": "dense", "units": 32}]},
              "training": {"optimizer": "sgd", "lr": 0.03, "batch_size": 64, "epochs": 3, "device": "cpu"}}

CASES = (Case("2-4-2 tanh, batch 10", [4, 2], 10, 150),
         Case("2-4-2 tanh, batch 1", [4, 2], 1, 20),
         Case("6 x 8 tanh, batch 10", [8] * 6, 10, 80),
         Case("digits MLP 64-128-64, batch 64", [], 64, 6, DIGITS_MLP),
         Case("digits CNN conv8-pool-32, batch 64", [], 64, 3, DIGITS_CNN))


def plain_torch(trainer: Trainer) -> float:
    """A textbook loop on a copy of the engine's model: seconds for the spec's epochs."""
    spec, split = trainer.spec, trainer.split
    t = spec.training
    model = Trainer(spec).model  # the same modules and weights (same seed), trained here by hand
    opt = torch.optim.SGD(model.parameters(), lr=t.lr)
    loss_fn = nn.CrossEntropyLoss()
    shuffle = torch.Generator().manual_seed(t.seed)
    x, y, xv, yv = split.x_train, split.y_train, split.x_val, split.y_val
    n = len(x)
    start = clock()
    for _ in range(t.epochs):
        model.train()
        order = torch.randperm(n, generator=shuffle)
        loss_sum = torch.zeros(())
        for i in range(0, n, t.batch_size):
            idx = order[i:i + t.batch_size]
            out = model(x[idx])
            loss = loss_fn(out, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.detach() * len(idx)
        loss_sum.item()
        model.eval()
        with torch.no_grad():
            loss_fn(model(xv), yv).item()
    return clock() - start


def numpy_loop(trainer: Trainer) -> float:
    """The same tanh net and SGD by hand in numpy: seconds for the spec's epochs."""
    spec, split = trainer.spec, trainer.split
    t = spec.training
    lins = [m for m in Trainer(spec).model.modules() if isinstance(m, nn.Linear)]
    Ws = [m.weight.detach().numpy().copy() for m in lins]
    bs = [m.bias.detach().numpy().copy() for m in lins]
    x, y = split.x_train.numpy(), split.y_train.numpy()
    xv, yv = split.x_val.numpy(), split.y_val.numpy()
    eye = np.eye(Ws[-1].shape[0], dtype=np.float32)
    rng = np.random.default_rng(t.seed)
    n, lr = len(x), t.lr
    start = clock()
    for _ in range(t.epochs):
        order = rng.permutation(n)
        xs, ys = x[order], y[order]
        total = 0.0
        for i in range(0, n, t.batch_size):
            xb, yb = xs[i:i + t.batch_size], ys[i:i + t.batch_size]
            acts = [xb]
            for W, b in zip(Ws[:-1], bs[:-1]):
                acts.append(np.tanh(acts[-1] @ W.T + b))
            out = acts[-1] @ Ws[-1].T + bs[-1]
            e = np.exp(out - out.max(1, keepdims=True))
            p = e / e.sum(1, keepdims=True)
            total -= np.log(p[np.arange(len(yb)), yb]).sum()
            g = (p - eye[yb]) / len(yb)
            for k in range(len(Ws) - 1, -1, -1):
                gW, gb = g.T @ acts[k], g.sum(0)
                if k:
                    g = (g @ Ws[k]) * (1 - acts[k] ** 2)
                Ws[k] -= lr * gW
                bs[k] -= lr * gb
        a = xv
        for W, b in zip(Ws[:-1], bs[:-1]):
            a = np.tanh(a @ W.T + b)
        out = a @ Ws[-1].T + bs[-1]
        (np.log(np.exp(out).sum(1)) - out[np.arange(len(yv)), yv]).mean()
    return clock() - start


def engine_steps(trainer: Trainer) -> float:
    fresh = Trainer(trainer.spec)
    start = clock()
    for _ in range(fresh.spec.training.epochs):
        fresh.step()
    return clock() - start


def engine_run(trainer: Trainer) -> float:
    fresh = Trainer(trainer.spec)
    events: list = []
    start = clock()
    fresh.run(emit=events.append)
    return clock() - start


def measure(case: Case) -> dict[str, Any]:
    trainer = Trainer(case.spec())
    sides: dict[str, Callable[[Trainer], float]] = {"torch": plain_torch, "step": engine_steps, "run": engine_run}
    if case.raw is None:
        sides["numpy"] = numpy_loop
    best = {k: math.inf for k in sides}
    for r in range(REPEATS):
        keys = list(sides)
        for k in keys[r % len(keys):] + keys[:r % len(keys)]:
            best[k] = min(best[k], sides[k](trainer))
    epochs = case.spec().training.epochs
    return {"name": case.name, "engine": trainer.engine, **{k: epochs / v for k, v in best.items()}}


def table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'workload':<36}{'engine path':>13}{'torch':>8}{'numpy':>8}{'step()':>8}{'run()':>8}"
            f"{'step/torch':>11}{'step/numpy':>11}{'run/step':>9}")
    lines = [head, "-" * len(head)]
    for r in rows:
        numpy_ = r.get("numpy")
        np_rate = f"{numpy_:,.0f}" if numpy_ else "-"
        np_ratio = f"{r['step'] / numpy_:.2f}" if numpy_ else "-"
        lines.append(f"{r['name']:<36}{r['engine']:>13}{r['torch']:>8,.0f}{np_rate:>8}{r['step']:>8,.0f}"
                     f"{r['run']:>8,.0f}{r['step'] / r['torch']:>11.2f}{np_ratio:>11}{r['run'] / r['step']:>9.2f}")
    return "\n".join(lines)


def main() -> None:
    torch.set_num_threads(1)
    print(f"fused dense path: epochs per CPU second, best of {REPEATS}, 1 thread, torch {torch.__version__}, "
          f"numpy {np.__version__}")
    print(table([measure(c) for c in CASES]))


if __name__ == "__main__":
    main()

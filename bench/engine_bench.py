"""Engine throughput against a plain PyTorch loop doing the same work.

Both sides train the same model from the same seed on the same split, one thread, and evaluate the
validation split once per epoch. The plain loop is the tougher baseline: like the engine it keeps
train loss and accuracy as tensors, so it pays one sync per epoch, not one per step. It is checked
to reach the engine's validation loss, so the two really did the same work.

Columns: the plain loop's steps/s, then the engine's `Trainer.step()` loop (the training core) and
its `Trainer.run()` (what the server runs: controls, events, diagnosis, snapshots), each with its
ratio to the plain loop. Measured interleaved, best of REPEATS, in CPU time (see `clock`).

A ratio above 1 is real: at these sizes a step is a few hundred microseconds of per-op dispatch,
and the engine's step (engine/trainer.py) dispatches fewer ops than the textbook loop for the same
arithmetic. The baseline stays textbook on purpose: it is what a user would write.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from engine.spec import ExperimentSpec, parse_spec
from engine.trainer import Trainer

REPEATS = 7


def clock() -> float:
    """CPU seconds of this process. Everything here runs on one thread, so this is the work done,
    and other load on the machine (a test run, a server) does not skew the ratios as wall time does."""
    return time.process_time()


@dataclass
class Workload:
    name: str
    spec: ExperimentSpec
    build: Callable[[], nn.Module]  # the plain model, built after torch.manual_seed(seed)
    optimizer: Callable[[Any], torch.optim.Optimizer]
    loss: Callable[[], nn.Module] = nn.CrossEntropyLoss
    classes: bool = True  # the plain loop counts correct predictions too, as the engine does


class PlainLSTM(nn.Module):
    """(B, 30, 1) -> LSTM 16, last step (B, 16) -> Linear (B, 1): what the engine builds, by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(1, 16, batch_first=True)
        self.head = nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)  # (B, T, 16)
        return self.head(out[:, -1])


def _circle() -> Workload:
    # The 2-8-8-1 tanh net. Circle is a two-class dataset, so the head has 2 logits and the
    # loss is cross-entropy on both sides.
    spec = parse_spec({"data": {"dataset": "circle", "n_samples": 400},
                       "model": {"layers": [{"type": "dense", "units": 8, "activation": "tanh"}] * 2},
                       "training": {"optimizer": "sgd", "lr": 0.03, "batch_size": 10, "epochs": 60,
                                    "device": "cpu"}})
    return Workload("2-8-8-2 tanh, circle, batch 10", spec,
                    lambda: nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 2)),
                    lambda params: torch.optim.SGD(params, lr=0.03))


def _digits() -> Workload:
    spec = parse_spec({"data": {"dataset": "digits"},
                       "model": {"layers": [{"type": "flatten"}, {"type": "dense", "units": 128},
                                            {"type": "dense", "units": 64}]},
                       "training": {"optimizer": "adam", "lr": 0.001, "batch_size": 64, "epochs": 40,
                                    "device": "cpu"}})
    # (B, 1, 8, 8) -> (B, 64) -> (B, 128) -> (B, 64) -> (B, 10)
    return Workload("64-128-64-10 relu, digits, batch 64", spec,
                    lambda: nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64),
                                          nn.ReLU(), nn.Linear(64, 10)),
                    lambda params: torch.optim.Adam(params, lr=0.001))


def _cnn_digits() -> Workload:
    spec = parse_spec({"data": {"dataset": "digits"},
                       "model": {"layers": [{"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": "same",
                                             "activation": "relu"},
                                            {"type": "maxpool2d", "kernel_size": 2}, {"type": "flatten"},
                                            {"type": "dense", "units": 32, "activation": "relu"}]},
                       "training": {"optimizer": "adam", "lr": 0.005, "batch_size": 64, "epochs": 15,
                                    "device": "cpu"}})
    # (B, 1, 8, 8) -> conv (B, 8, 8, 8) -> pool (B, 8, 4, 4) -> (B, 128) -> (B, 32) -> (B, 10)
    return Workload("CNN conv8-pool-32, digits, batch 64", spec,
                    lambda: nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                          nn.Linear(128, 32), nn.ReLU(), nn.Linear(32, 10)),
                    lambda params: torch.optim.Adam(params, lr=0.005))


def _lstm_sequences() -> Workload:
    spec = parse_spec({"data": {"dataset": "sequences", "n_samples": 800},
                       "model": {"layers": [{"type": "lstm", "units": 16}]},
                       "training": {"optimizer": "adam", "lr": 0.01, "batch_size": 32, "epochs": 8,
                                    "device": "cpu"}})
    return Workload("LSTM 16, sequences (30, 1), batch 32", spec, PlainLSTM,
                    lambda params: torch.optim.Adam(params, lr=0.01), loss=nn.MSELoss, classes=False)


WORKLOADS = (_circle, _digits, _cnn_digits, _lstm_sequences)


def plain(w: Workload, split) -> tuple[float, float]:
    """Train with a textbook loop; return (seconds, final val loss)."""
    t = w.spec.training
    torch.manual_seed(t.seed)
    model = w.build()
    opt = w.optimizer(model.parameters())
    loss_fn = w.loss()
    shuffle = torch.Generator().manual_seed(t.seed)
    x, y, xv, yv = split.x_train, split.y_train, split.x_val, split.y_val
    n, bs = len(x), t.batch_size
    val_loss = math.nan
    start = clock()
    for _ in range(t.epochs):
        model.train()
        order = torch.randperm(n, generator=shuffle)
        loss_sum = torch.zeros(())
        correct = torch.zeros((), dtype=torch.long)
        for i in range(0, n, bs):
            idx = order[i:i + bs]
            xb, yb = x[idx], y[idx]
            out = model(xb)
            loss = loss_fn(out, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.detach() * len(idx)
            if w.classes:
                correct += (out.detach().argmax(1) == yb).sum()
        train_loss, train_acc = loss_sum.item() / n, correct.item() / n  # noqa: F841 (the same work)
        model.eval()
        with torch.no_grad():
            out = model(xv)
            val_loss = loss_fn(out, yv).item()
            if w.classes:
                val_acc = (out.argmax(1) == yv).sum().item() / len(xv)  # noqa: F841
    return clock() - start, val_loss


def engine_steps(w: Workload) -> tuple[float, float]:
    trainer = Trainer(w.spec)
    start = clock()
    for _ in range(w.spec.training.epochs):
        trainer.step()
    return clock() - start, trainer.history["val_loss"][-1]


def engine_run(w: Workload) -> tuple[float, float]:
    trainer = Trainer(w.spec)
    events: list = []
    start = clock()
    trainer.run(emit=events.append)
    elapsed = clock() - start
    # run() ends on the best weights only under early stopping, which is off here.
    return elapsed, trainer.history["val_loss"][-1]


def measure(w: Workload) -> dict[str, Any]:
    split = Trainer(w.spec).split
    steps = w.spec.training.epochs * math.ceil(len(split.x_train) / w.spec.training.batch_size)
    sides: dict[str, Callable[[], tuple[float, float]]] = {
        "plain": lambda: plain(w, split), "step": lambda: engine_steps(w), "run": lambda: engine_run(w)}
    best = {k: math.inf for k in sides}
    val = {}
    for r in range(REPEATS):
        keys = list(sides)
        for k in keys[r % 3:] + keys[:r % 3]:  # rotate the order so no side always runs first
            seconds, val[k] = sides[k]()
            best[k] = min(best[k], seconds)
    same = all(abs(val[k] - val["plain"]) <= 1e-5 * max(1.0, abs(val["plain"])) for k in val)
    return {"name": w.name, "steps": steps, "same": same, **{k: steps / best[k] for k in sides}}


def table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'workload':<38}{'steps':>7}{'plain/s':>10}{'step()/s':>10}{'ratio':>7}"
            f"{'run()/s':>10}{'ratio':>7}  same result")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['name']:<38}{r['steps']:>7}{r['plain']:>10,.0f}{r['step']:>10,.0f}"
                     f"{r['step'] / r['plain']:>7.2f}{r['run']:>10,.0f}{r['run'] / r['plain']:>7.2f}"
                     f"  {'yes' if r['same'] else 'NO'}")
    return "\n".join(lines)


def main() -> None:
    torch.set_num_threads(1)
    print(f"engine vs plain PyTorch: steps per CPU second, best of {REPEATS}, 1 thread, torch {torch.__version__}")
    rows = [measure(make()) for make in WORKLOADS]
    print(table(rows))

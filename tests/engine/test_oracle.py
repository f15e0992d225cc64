"""The oracle: the engine's Trainer against a plain PyTorch loop written here.

The loop replays the reproducibility protocol at the top of engine/trainer.py and nothing
else of the engine's: torch.manual_seed(seed), then the modules in order; a CPU generator
seeded with training.seed draws torch.randperm(n_train) each epoch; dropout masks come from a
second generator seeded with seed + 1. Only the data comes from engine.datasets.build_split.
Per-epoch losses must agree to 1e-6.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import pytest
import torch
from torch import nn

from engine.datasets import build_split
from engine.events import HISTORY_COLUMNS
from engine.trainer import Trainer
from oraclekit import PlainDropout

TOL = 1e-6


def plain_train(build: Callable[[torch.Generator], nn.Module], split, *, seed: int, epochs: int,
                batch_size: int, optimizer: str, lr: float, loss_fn: nn.Module, l1: float = 0.0,
                l2: float = 0.0, schedule: Callable[[torch.optim.Optimizer], Any] | None = None,
                classification: bool = True) -> dict[str, list]:
    """Train with a textbook loop; return the per-epoch history."""
    torch.manual_seed(seed)
    dropout_gen = torch.Generator().manual_seed(seed + 1)
    model = build(dropout_gen)
    opt = {"sgd": lambda: torch.optim.SGD(model.parameters(), lr=lr),
           "momentum": lambda: torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9),
           "adam": lambda: torch.optim.Adam(model.parameters(), lr=lr)}[optimizer]()
    sched = schedule(opt) if schedule else None
    weights = [p for name, p in model.named_parameters() if name.endswith("weight") and p.dim() >= 2]
    shuffle = torch.Generator().manual_seed(seed)
    x, y, xv, yv = split.x_train, split.y_train, split.x_val, split.y_val
    n = len(x)
    hist: dict[str, list] = {"train_loss": [], "val_loss": [], "train_acc": [], "val_acc": [], "lr": []}
    for _ in range(epochs):
        hist["lr"].append(opt.param_groups[0]["lr"])
        model.train()
        order = torch.randperm(n, generator=shuffle)
        total_loss, correct = 0.0, 0
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            out = model(x[idx])
            loss = loss_fn(out, y[idx])
            objective = loss
            if l2:
                objective = objective + l2 * sum(w.pow(2).sum() for w in weights)
            if l1:
                objective = objective + l1 * sum(w.abs().sum() for w in weights)
            opt.zero_grad()
            objective.backward()
            opt.step()
            total_loss += loss.item() * len(idx)
            if classification:
                correct += int((out.argmax(1) == y[idx]).sum())
        if sched:
            sched.step()
        model.eval()
        with torch.no_grad():
            out_v = model(xv)
            hist["val_loss"].append(loss_fn(out_v, yv).item())
            hist["val_acc"].append(int((out_v.argmax(1) == yv).sum()) / len(xv) if classification else None)
        hist["train_loss"].append(total_loss / n)
        hist["train_acc"].append(correct / n if classification else None)
    return hist


def mlp(sizes: list[int], act: type[nn.Module], n_out: int, dropout: float = 0.0):
    """(F,) -> hidden sizes with `act` (and dropout after each) -> n_out logits."""

    def build(gen: torch.Generator) -> nn.Module:
        mods: list[nn.Module] = []
        for a, b in zip(sizes, sizes[1:]):
            mods += [nn.Linear(a, b), act()]
            if dropout:
                mods.append(PlainDropout(dropout, gen))
        mods.append(nn.Linear(sizes[-1], n_out))
        return nn.Sequential(*mods)

    return build


def engine_history(spec) -> dict[str, list]:
    trainer = Trainer(spec)
    result = trainer.run()
    assert result.status == "finished" and result.epochs == spec.training.epochs
    return trainer.history


def assert_same(engine: dict[str, list], plain: dict[str, list]) -> None:
    for col in ("train_loss", "val_loss", "lr"):
        assert len(engine[col]) == len(plain[col])
        for e, (a, b) in enumerate(zip(engine[col], plain[col]), 1):
            assert abs(a - b) <= TOL, f"{col} differs at epoch {e}: engine {a!r}, plain {b!r}"
    # Accuracies are counts over n, so they agree exactly unless a prediction flipped.
    for col in ("train_acc", "val_acc"):
        for a, b in zip(engine[col], plain[col]):
            assert (a is None and b is None) or abs(a - b) < 1e-9, (col, engine[col], plain[col])


MLP_CASES = {
    "sgd": ({}, {}),
    "adam": ({"training": {"optimizer": "adam", "lr": 0.01}}, {"optimizer": "adam", "lr": 0.01}),
    "momentum": ({"training": {"optimizer": "momentum", "lr": 0.05}}, {"optimizer": "momentum", "lr": 0.05}),
    "sgd_l2": ({"training": {"l2": 0.01}}, {"l2": 0.01}),
    "adam_l1_l2": ({"training": {"optimizer": "adam", "lr": 0.01, "l1": 0.001, "l2": 0.003}},
                   {"optimizer": "adam", "lr": 0.01, "l1": 0.001, "l2": 0.003}),
    "step_schedule": ({"training": {"lr_schedule": {"type": "step", "step_size": 2, "gamma": 0.5}}},
                      {"schedule": lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5)}),
    "exponential_schedule": ({"training": {"optimizer": "adam", "lr": 0.02,
                                           "lr_schedule": {"type": "exponential", "gamma": 0.8}}},
                             {"optimizer": "adam", "lr": 0.02,
                              "schedule": lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.8)}),
    # The engine's cosine reaches min_lr on the last epoch, i.e. torch's T_max = epochs - 1.
    "cosine_schedule": ({"training": {"lr_schedule": {"type": "cosine", "min_lr": 0.01}}},
                        {"schedule": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=4,
                                                                                          eta_min=0.01)}),
}


@pytest.mark.parametrize("case", list(MLP_CASES))
def test_mlp_on_circle_matches_plain_torch(make_spec, case):
    patch, overrides = MLP_CASES[case]
    spec = make_spec(patch)
    t = spec.training
    plain = plain_train(mlp([2, 8, 8], nn.Tanh, 2), build_split(spec.data, "classification"),
                        seed=t.seed, epochs=t.epochs, batch_size=t.batch_size, loss_fn=nn.CrossEntropyLoss(),
                        **{"optimizer": "sgd", "lr": 0.1, **overrides})
    engine = engine_history(spec)
    assert_same(engine, plain)
    # The run learned something, so the comparison is not between two constant curves.
    assert engine["train_loss"][-1] < engine["train_loss"][0]


def test_uneven_last_batch_matches(make_spec):
    """70 training rows in batches of 16: the last batch holds 6, and the mean weights by size."""
    spec = make_spec({"training": {"batch_size": 16, "optimizer": "adam", "lr": 0.02}})
    t = spec.training
    plain = plain_train(mlp([2, 8, 8], nn.Tanh, 2), build_split(spec.data, "classification"),
                        seed=t.seed, epochs=t.epochs, batch_size=16, optimizer="adam", lr=0.02,
                        loss_fn=nn.CrossEntropyLoss())
    assert len(build_split(spec.data, "classification").x_train) % 16 != 0
    assert_same(engine_history(spec), plain)


def test_dropout_matches_plain_torch(make_spec):
    layers = [{"type": "dense", "units": 8, "activation": "tanh"}, {"type": "dropout", "p": 0.3},
              {"type": "dense", "units": 8, "activation": "tanh"}, {"type": "dropout", "p": 0.3}]
    spec = make_spec({"model": {"layers": layers}, "training": {"optimizer": "adam", "lr": 0.01}})
    t = spec.training
    plain = plain_train(mlp([2, 8, 8], nn.Tanh, 2, dropout=0.3), build_split(spec.data, "classification"),
                        seed=t.seed, epochs=t.epochs, batch_size=t.batch_size, optimizer="adam", lr=0.01,
                        loss_fn=nn.CrossEntropyLoss())
    assert_same(engine_history(spec), plain)


def test_batchnorm_matches_plain_torch(make_spec):
    layers = [{"type": "dense", "units": 8, "activation": "relu"}, {"type": "batchnorm"}]
    spec = make_spec({"model": {"layers": layers}, "training": {"optimizer": "adam", "lr": 0.01}})
    t = spec.training

    def build(_gen):
        return nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.BatchNorm1d(8), nn.Linear(8, 2))

    plain = plain_train(build, build_split(spec.data, "classification"), seed=t.seed, epochs=t.epochs,
                        batch_size=t.batch_size, optimizer="adam", lr=0.01, loss_fn=nn.CrossEntropyLoss())
    assert_same(engine_history(spec), plain)


def test_regression_on_sine_matches_plain_torch(make_spec):
    spec = make_spec({"data": {"dataset": "sine", "n_samples": 60, "noise": 0.1},
                      "training": {"optimizer": "adam", "lr": 0.02}})
    t = spec.training
    plain = plain_train(mlp([1, 8, 8], nn.Tanh, 1), build_split(spec.data, "regression"), seed=t.seed,
                        epochs=t.epochs, batch_size=t.batch_size, optimizer="adam", lr=0.02,
                        loss_fn=nn.MSELoss(), classification=False)
    assert_same(engine_history(spec), plain)


def test_cnn_on_digits_matches_plain_torch(make_spec):
    layers = [{"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": "same", "activation": "relu"},
              {"type": "maxpool2d"}, {"type": "flatten"}, {"type": "dense", "units": 16, "activation": "relu"}]
    spec = make_spec({"data": {"dataset": "digits", "n_samples": 150},
                      "model": {"layers": layers},
                      "training": {"optimizer": "adam", "lr": 0.01, "batch_size": 16, "epochs": 3}})
    t = spec.training

    def build(_gen):
        # (B, 1, 8, 8) -> conv (B, 4, 8, 8) -> pool (B, 4, 4, 4) -> (B, 64) -> (B, 16) -> (B, 10)
        return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))

    plain = plain_train(build, build_split(spec.data, "classification"), seed=t.seed, epochs=t.epochs,
                        batch_size=16, optimizer="adam", lr=0.01, loss_fn=nn.CrossEntropyLoss())
    engine = engine_history(spec)
    assert_same(engine, plain)
    assert engine["train_loss"][-1] < engine["train_loss"][0]


class PlainRecurrent(nn.Module):
    """The engine's recurrent stack written by hand, created in the same order (so the same init)."""

    def __init__(self, horizon: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(1, 8, batch_first=True)
        self.gru = nn.GRU(8, 6, batch_first=True)
        self.dense = nn.Linear(6, 5)
        self.head = nn.Linear(5, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(x)  # (B, T, 1) -> (B, T, 8): return_sequences
        h, _ = self.gru(h)  # (B, T, 8) -> (B, T, 6)
        h = torch.tanh(self.dense(h[:, -1]))  # the last step (B, 6) -> (B, 5)
        return self.head(h)  # (B, 5) -> (B, horizon)


def test_recurrent_forecast_matches_plain_torch(make_spec):
    layers = [{"type": "lstm", "units": 8, "return_sequences": True}, {"type": "gru", "units": 6},
              {"type": "dense", "units": 5, "activation": "tanh"}]
    spec = make_spec({"data": {"dataset": "sequences", "n_samples": 120, "window": 10, "horizon": 2, "noise": 0.1},
                      "model": {"layers": layers},
                      "training": {"optimizer": "adam", "lr": 0.01, "batch_size": 16, "epochs": 4}})
    t = spec.training
    split = build_split(spec.data, "forecasting")
    plain = plain_train(lambda _gen: PlainRecurrent(2), split, seed=t.seed, epochs=t.epochs,
                        batch_size=16, optimizer="adam", lr=0.01, loss_fn=nn.MSELoss(), classification=False)
    engine = engine_history(spec)
    for col in ("train_loss", "val_loss", "lr"):
        assert len(engine[col]) == len(plain[col]) == 4
        for e, (a, b) in enumerate(zip(engine[col], plain[col]), 1):
            assert abs(a - b) <= TOL, f"{col} differs at epoch {e}: engine {a!r}, plain {b!r}"
    naive = float(((split.y_val - split.x_val[:, -1, :1]) ** 2).mean())  # repeat the last value
    assert engine["naive_val_loss"] == pytest.approx([naive] * 4, abs=1e-9)
    assert "train_acc" not in engine and engine["train_loss"][-1] < engine["train_loss"][0]


# -- reproducibility --------------------------------------------------------------------------------
def _without_timing(history: dict[str, list]) -> dict[str, list]:
    return {c: history[c] for c in HISTORY_COLUMNS if c != "step_time"}


@pytest.mark.parametrize("dropout", [False, True], ids=["plain", "dropout"])
def test_same_spec_gives_identical_histories(make_spec, dropout):
    layers = [{"type": "dense", "units": 8, "activation": "tanh"}]
    if dropout:
        layers.append({"type": "dropout", "p": 0.5})
    spec = make_spec({"model": {"layers": layers}, "training": {"optimizer": "adam", "lr": 0.01}})
    first, second = engine_history(spec), engine_history(spec)
    assert _without_timing(first) == _without_timing(second)
    assert all(math.isfinite(v) for v in first["train_loss"])
    # A different training seed must change the run, or the equality above proves nothing.
    other = make_spec({"model": {"layers": layers}, "training": {"optimizer": "adam", "lr": 0.01, "seed": 12}})
    assert engine_history(other)["train_loss"] != first["train_loss"]


def test_dropout_masks_do_not_depend_on_the_global_rng(make_spec):
    """Another thread drawing from torch's global RNG mid-run must not change a dropout run."""
    layers = [{"type": "dense", "units": 8, "activation": "tanh"}, {"type": "dropout", "p": 0.5}]
    spec = make_spec({"model": {"layers": layers}})
    reference = Trainer(spec)
    for _ in range(3):
        reference.step()
    disturbed = Trainer(spec)
    for _ in range(3):
        torch.rand(1000)  # what a concurrent run's initialisation would do
        disturbed.step()
    assert reference.history["train_loss"] == disturbed.history["train_loss"]

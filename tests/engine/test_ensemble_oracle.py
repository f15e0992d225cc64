"""The ensemble oracle (training.seeds, issue 16): member k is a plain PyTorch loop of init seed seed + k.

The loop below replays the ensemble's protocol (engine/families/ensemble.py) and nothing else of the
engine's: torch.manual_seed(seed + k), then the modules in order; the batch order of every member is
torch.randperm from one generator seeded with training.seed; dropout masks from a generator seeded
with seed + 1, one per member. The history's columns must be the K loops' mean and sample sd, epoch
by epoch, and each member's final weights the loop's.
"""

from __future__ import annotations

import contextlib
import math
import random
from typing import Any

import pytest
import torch
from torch import nn

from engine.data import Split, build_split
from engine.families.ensemble import EnsembleLoopStepper
from engine.families.fused_ensemble import FusedEnsembleStepper
from engine.spec import parse_spec
from engine.trainer import Trainer
from oraclekit import PlainDropout, default_float64

ACTS = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "elu": nn.ELU, "linear": nn.Identity,
        "leaky_relu": lambda: nn.LeakyReLU(0.01)}
TOL64, TOL32 = 1e-9, 1e-6


def as64(split: Split) -> Split:
    f = lambda t: t.double() if t.is_floating_point() else t  # noqa: E731
    return Split(f(split.x_train), f(split.y_train), f(split.x_val), f(split.y_val), split.input_shape,
                 split.n_classes)


def plain_member(raw: dict[str, Any], split: Split, k: int, n_out: int, classes: bool) -> tuple[dict, nn.Module]:
    """Member k, trained with a textbook loop: (per-epoch losses and accuracies, the model)."""
    t = raw["training"]
    seed, lr, bs = t.get("seed", 0), t["lr"], t["batch_size"]
    l1, l2 = t.get("l1", 0.0), t.get("l2", 0.0)
    torch.manual_seed(seed + k)
    gen = torch.Generator().manual_seed(seed + 1)
    mods: list[nn.Module] = []
    width = split.x_train.shape[1]
    for layer in raw["model"]["layers"]:
        if layer["type"] == "dropout":
            mods.append(PlainDropout(layer["p"], gen))
            continue
        mods += [nn.Linear(width, layer["units"]), ACTS[layer["activation"]]()]
        width = layer["units"]
    model = nn.Sequential(*mods, nn.Linear(width, n_out))
    opt = {"sgd": lambda p: torch.optim.SGD(p, lr=lr), "momentum": lambda p: torch.optim.SGD(p, lr=lr, momentum=0.9),
           "adam": lambda p: torch.optim.Adam(p, lr=lr)}[t["optimizer"]](model.parameters())
    loss_fn = nn.CrossEntropyLoss() if classes else nn.MSELoss()
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    shuffle = torch.Generator().manual_seed(seed)  # the shared batch order: seed's, not seed + k's
    x, y = split.x_train, split.y_train
    hist: dict[str, list] = {"train_loss": [], "val_loss": [], "train_acc": [], "val_acc": []}
    for _ in range(t["epochs"]):
        model.train()
        order = torch.randperm(len(x), generator=shuffle)
        total, correct = 0.0, 0
        for i in range(0, len(x), bs):
            idx = order[i:i + bs]
            out = model(x[idx])
            loss = loss_fn(out, y[idx])
            obj = loss
            if l2:
                obj = obj + l2 * sum((w * w).sum() for w in weights)
            if l1:
                obj = obj + l1 * sum(w.abs().sum() for w in weights)
            opt.zero_grad()
            obj.backward()
            opt.step()
            total += loss.item() * len(idx)
            if classes:
                correct += int((out.argmax(1) == y[idx]).sum())
        model.eval()
        with torch.no_grad():
            out_v = model(split.x_val)
            hist["val_loss"].append(loss_fn(out_v, split.y_val).item())
            hist["val_acc"].append(int((out_v.argmax(1) == split.y_val).sum()) / len(split.x_val) if classes else None)
        hist["train_loss"].append(total / len(x))
        hist["train_acc"].append(correct / len(x) if classes else None)
    return hist, model


def check(raw: dict[str, Any], *, wide: bool = False) -> Trainer:
    """Train the ensemble and its K plain loops; their mean, sd and weights agree."""
    spec = parse_spec(raw)
    fused = spec.training.optimizer in ("sgd", "momentum", "adam") and not any(
        layer.type == "dropout" for layer in spec.model.layers)
    tol = TOL64 if fused else TOL32
    ctx = default_float64() if fused else contextlib.nullcontext()
    with ctx:
        split = build_split(spec.data, spec.task)
        split = as64(split) if fused else split
        trainer = Trainer(spec, split=split)
        assert isinstance(trainer.stepper, FusedEnsembleStepper if fused else EnsembleLoopStepper)
        trainer.run()
        classes = spec.task == "classification"
        n_out = int(split.n_classes or 1) if classes else 1
        plains = [plain_member(raw, split, k, n_out, classes) for k in range(spec.training.seeds)]
    h = trainer.history
    cols = ("train_loss", "val_loss", "train_acc", "val_acc") if classes else ("train_loss", "val_loss")
    for col in cols:
        for e in range(spec.training.epochs):
            vals = [p[0][col][e] for p in plains]
            mean = math.fsum(vals) / len(vals)
            sd = math.sqrt(math.fsum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
            assert abs(h[col][e] - mean) <= tol, (col, e, h[col][e], mean)
            assert abs(h[f"{col}_sd"][e] - sd) <= tol, (col + "_sd", e, h[f"{col}_sd"][e], sd)
    for k, (_, model) in enumerate(plains):
        got = list(trainer.members[k].state_dict().values())  # the engine nests its blocks: same order
        want = list(model.state_dict().values())
        assert len(got) == len(want)
        for i, (a, b) in enumerate(zip(got, want)):
            assert torch.allclose(a.double(), b.double(), atol=tol * 10, rtol=0), (k, i)
    return trainer


def generated(count: int, seed: int = 16) -> list[dict[str, Any]]:
    """Fused-path ensembles over depths, activations, optimizers, l1/l2 and an uneven last batch."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        depth = rng.choice([0, 1, 2, 3])
        layers = [{"type": "dense", "units": rng.choice([3, 8, 16]), "activation": rng.choice(sorted(ACTS))}
                  for _ in range(depth)]
        opt = ["sgd", "momentum", "adam"][i % 3]
        regression = i % 4 == 3
        out.append({
            "data": {"dataset": "sine" if regression else rng.choice(["circle", "xor", "spiral"]),
                     "n_samples": rng.choice([60, 77, 101]), "seed": rng.randrange(100)},
            "model": {"layers": layers},
            "training": {"optimizer": opt, "lr": {"sgd": 0.1, "momentum": 0.05, "adam": 0.01}[opt],
                         "batch_size": rng.choice([8, 13, 32]), "epochs": 4, "seed": rng.randrange(1000),
                         "seeds": rng.choice([2, 3, 5]), "l2": rng.choice([0.0, 0.0, 0.01]),
                         "l1": rng.choice([0.0, 0.0, 0.001])},
        })
    return out


@pytest.mark.parametrize("raw", generated(16), ids=lambda r: (
    f"{r['training']['optimizer']}-{len(r['model']['layers'])}deep-K{r['training']['seeds']}-{r['data']['dataset']}"))
def test_fused_ensemble_members_are_plain_loops(raw: dict[str, Any]) -> None:
    check(raw)


def test_an_uneven_last_batch_and_adam_with_l2() -> None:
    raw = {"data": {"dataset": "circle", "n_samples": 97}, "model": {"layers": [
        {"type": "dense", "units": 8, "activation": "tanh"}, {"type": "dense", "units": 8, "activation": "tanh"}]},
        "training": {"optimizer": "adam", "lr": 0.02, "batch_size": 10, "epochs": 6, "seeds": 4, "l2": 0.003}}
    check(raw)


def test_dropout_ensemble_trains_each_member_as_its_own_loop() -> None:
    """Off the fused path (dropout) the members train in turn; each is still the plain loop, masks included."""
    raw = {"data": {"dataset": "spiral", "n_samples": 90}, "model": {"layers": [
        {"type": "dense", "units": 12, "activation": "relu"}, {"type": "dropout", "p": 0.3}]},
        "training": {"optimizer": "adam", "lr": 0.01, "batch_size": 16, "epochs": 4, "seeds": 3}}
    check(raw)


def test_member_zero_is_the_single_run_and_its_weights_are_the_ones_saved() -> None:
    base = {"data": {"dataset": "circle", "n_samples": 120}, "model": {"layers": [
        {"type": "dense", "units": 8, "activation": "tanh"}]},
        "training": {"optimizer": "momentum", "lr": 0.05, "epochs": 5, "seed": 3}}
    single = Trainer(parse_spec(base))
    single.run()
    ens = Trainer(parse_spec({**base, "training": {**base["training"], "seeds": 4}}))
    ens.run()
    saved = ens.stepper.state_dict()
    assert saved.keys() == single.stepper.state_dict().keys()
    for key, want in single.stepper.state_dict().items():
        assert torch.allclose(saved[key], want, atol=1e-6, rtol=0), key
    assert ens.best_state().keys() == saved.keys()  # the best weights file holds member 0 too


def test_early_stopping_restores_every_member() -> None:
    raw = {"data": {"dataset": "spiral", "n_samples": 80, "noise": 0.6}, "model": {"layers": [
        {"type": "dense", "units": 64, "activation": "relu"}, {"type": "dense", "units": 64, "activation": "relu"}]},
        "training": {"optimizer": "adam", "lr": 0.03, "epochs": 300, "seeds": 3,
                     "early_stopping": {"patience": 5, "min_delta": 0.0, "restore_best": True}}}
    trainer = Trainer(parse_spec(raw))
    result = trainer.run()
    assert result.stopped_early
    restored = trainer.weights_epoch
    assert restored < result.epochs
    # The ensemble's mean validation loss after the restore is the one recorded at that epoch: all
    # K members went back, not member 0 alone.
    assert abs(trainer.stepper.evaluate()["val_loss"] - trainer.history["val_loss"][restored - 1]) < 1e-6

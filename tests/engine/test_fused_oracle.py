"""The fused dense stepper's oracle: the same epochs on autograd (SupervisedStepper) must give the
same per-epoch losses.

Generated specs cover depths 0-3, widths 1-16, every registered activation, SGD, momentum and
Adam, l1/l2, batch sizes with an uneven last batch, schedules, classification and regression.
Both sides run in float64 from the same initial weights and the same batch orders, so a difference
is a wrong formula, not rounding (1e-9). The float32 runs of the whole Trainer (controls, early
stopping, divergence) are compared at 1e-6, as tests/engine/test_oracle.py compares the engine with
a plain PyTorch loop.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
import torch

from engine.activations import ACTIVATIONS
from engine.control import Control
from engine.data import Split
from engine.families.fused_dense import ENGINE_AUTOGRAD, ENGINE_FUSED, FusedDenseStepper
from engine.families.supervised_step import SupervisedStepper
from engine.spec import merge_patch, parse_spec
from engine.trainer import Trainer, lr_factor
from oraclekit import default_float64

TOL64 = 1e-9
TOL32 = 1e-6
ACTS = [name for name, _ in ACTIVATIONS.items()]
SCHEDULES = [{"type": "none"}, {"type": "step", "step_size": 2, "gamma": 0.5},
             {"type": "exponential", "gamma": 0.8}, {"type": "cosine", "min_lr": 0.001}]
LR = {"sgd": 0.1, "momentum": 0.05, "adam": 0.01}


def generated_specs(count: int, seed: int = 16) -> list[dict[str, Any]]:
    """Random small dense specs, each within the fused path's scope."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        regression = i % 4 == 3
        opt = ("sgd", "momentum", "adam")[i % 3]
        out.append({
            "data": {"dataset": "sine" if regression else rng.choice(["circle", "xor", "spiral", "gaussians"]),
                     "n_samples": rng.choice([53, 80, 101]), "noise": 0.1, "seed": rng.randrange(100)},
            "model": {"layers": [{"type": "dense", "units": rng.randint(1, 16), "activation": rng.choice(ACTS)}
                                 for _ in range(rng.randint(0, 3))]},
            "training": {"optimizer": opt, "lr": LR[opt], "batch_size": rng.choice([1, 7, 10, 16, 64]),
                         "epochs": 4, "seed": rng.randrange(1000), "device": "cpu",
                         "l1": rng.choice([0.0, 0.0, 0.001]), "l2": rng.choice([0.0, 0.003, 0.01]),
                         "lr_schedule": rng.choice(SCHEDULES)},
        })
    return out


def as64(split: Split) -> Split:
    return Split(split.x_train.double(), split.y_train if split.y_train.dtype == torch.long else split.y_train.double(),
                 split.x_val.double(), split.y_val if split.y_val.dtype == torch.long else split.y_val.double(),
                 split.input_shape, split.n_classes)


def autograd_stepper(trainer: Trainer, model: torch.nn.Module, split: Split) -> SupervisedStepper:
    t = trainer.spec.training
    return SupervisedStepper(model, split, torch.device("cpu"), optimizer=t.optimizer, lr=t.lr, l1=t.l1, l2=t.l2,
                             loss=trainer.family.make_loss(), classes=trainer.family.target == "class")


@pytest.mark.parametrize("raw", generated_specs(40), ids=lambda r: (
    f"{r['training']['optimizer']}-{r['data']['dataset']}-b{r['training']['batch_size']}-"
    + "-".join(f"{l['units']}{l['activation']}" for l in r["model"]["layers"])))
def test_fused_equals_autograd_float64(raw: dict[str, Any]) -> None:
    spec = parse_spec(raw)
    trainer = Trainer(spec)  # built in float32, as the engine builds it; copied to float64 below
    assert trainer.engine == ENGINE_FUSED and trainer.summary.engine == ENGINE_FUSED
    split = as64(trainer.split)
    fused_model = copy.deepcopy(trainer.model).double()
    plain_model = copy.deepcopy(trainer.model).double()
    t = spec.training
    fused = FusedDenseStepper(fused_model, split, activations=[l.activation for l in spec.model.layers],
                              optimizer=t.optimizer, lr=t.lr, l1=t.l1, l2=t.l2, loss=trainer.family.make_loss(),
                              classes=trainer.family.target == "class")
    with default_float64():
        plain = autograd_stepper(trainer, plain_model, split)
        check_epochs(spec, split, fused, plain)
    for (k, p), q in zip(plain_model.state_dict().items(), fused_model.state_dict().values()):
        assert torch.allclose(p, q, rtol=1e-9, atol=1e-10), k


def check_epochs(spec, split: Split, fused: FusedDenseStepper, plain: SupervisedStepper) -> None:
    t = spec.training
    shuffle = torch.Generator().manual_seed(t.seed)
    for epoch in range(t.epochs):
        lr = t.lr * lr_factor(spec, epoch)
        fused.set_lr(lr)
        plain.set_lr(lr)
        order = torch.randperm(len(split.x_train), generator=shuffle)
        a, _ = fused.train_epoch(order, t.batch_size)
        b, _ = plain.train_epoch(order, t.batch_size)
        a.update(fused.evaluate())
        b.update(plain.evaluate())
        for col in ("train_loss", "val_loss"):
            assert abs(a[col] - b[col]) <= TOL64 * max(1.0, abs(b[col])), (epoch, col, a[col], b[col])
        if "train_acc" in b:
            assert abs(a["train_acc"] - b["train_acc"]) < 1e-9 and abs(a["val_acc"] - b["val_acc"]) < 1e-9


BASE = {"data": {"dataset": "circle", "n_samples": 120, "noise": 0.1, "seed": 3},
        "model": {"layers": [{"type": "dense", "units": 8, "activation": "tanh"},
                             {"type": "dense", "units": 4, "activation": "relu"}]},
        "training": {"optimizer": "adam", "lr": 0.02, "batch_size": 10, "epochs": 12, "seed": 5, "device": "cpu"}}


def run_both(patch: dict[str, Any], control_script=None) -> tuple[Trainer, Trainer]:
    """The same spec trained by the fused Trainer and by one whose stepper is autograd's."""
    spec = parse_spec(merge_patch(BASE, patch))
    out = []
    for fused in (True, False):
        trainer = Trainer(spec)
        if not fused:
            trainer.stepper = autograd_stepper(trainer, trainer.model, trainer.split)
        control = Control()
        if control_script:
            control_script(control)
        trainer.run(control)
        out.append(trainer)
    assert isinstance(out[0].stepper, FusedDenseStepper)
    return out[0], out[1]


def assert_same_history(a: Trainer, b: Trainer, tol: float = TOL32) -> None:
    assert a.history["epoch"] == b.history["epoch"]
    for col in ("train_loss", "val_loss", "lr"):
        for x, y in zip(a.history[col], b.history[col]):
            assert (x is None and y is None) or abs(x - y) <= tol * max(1.0, abs(y)), (col, a.history[col], b.history[col])
    assert (a.best_epoch, a.stopped_early, a.diverged, a.weights_epoch) == \
        (b.best_epoch, b.stopped_early, b.diverged, b.weights_epoch)


@pytest.mark.parametrize("patch", [
    {},
    {"training": {"optimizer": "sgd", "lr": 0.1, "l1": 0.001, "l2": 0.01, "batch_size": 7}},
    {"training": {"optimizer": "momentum", "lr": 0.05, "lr_schedule": {"type": "cosine", "min_lr": 0.001}}},
    {"training": {"epochs": 40, "early_stopping": {"patience": 2, "min_delta": 0.0, "restore_best": True}}},
    {"training": {"optimizer": "sgd", "lr": 1e4, "epochs": 10},
     "model": {"layers": [{"type": "dense", "units": 8, "activation": "relu"}]}},  # diverges
], ids=["adam", "sgd-l1-l2-uneven", "momentum-cosine", "early-stopping", "diverges"])
def test_trainer_runs_alike(patch: dict[str, Any]) -> None:
    fused, plain = run_both(patch)
    diverges = patch.get("training", {}).get("lr") == 1e4
    # Losses of 1e8 summed in float32 by the autograd stepper carry its rounding, a few 1e-6 of them.
    assert_same_history(fused, plain, 1e-5 if diverges else TOL32)
    assert fused.diverged == diverges
    for p, q in zip(fused.model.state_dict().values(), plain.model.state_dict().values()):
        assert torch.allclose(p, q, atol=1e-5)


def test_live_lr_and_l2_changes_alike() -> None:
    """A change of lr and l2 taken from epoch 3 on, as a running run's `set` control does."""
    spec = parse_spec(BASE)
    hists = []
    for fused in (True, False):
        trainer = Trainer(spec)
        if not fused:
            trainer.stepper = autograd_stepper(trainer, trainer.model, trainer.split)
        for epoch in range(6):
            if epoch == 3:
                trainer.apply_changes(0.005, 0.01)
            trainer.step()
        hists.append(trainer)
    assert_same_history(*hists)


@pytest.mark.parametrize("patch, why", [
    ({"model": {"layers": [{"type": "dense", "units": 8}, {"type": "dropout", "p": 0.2}]}}, "dropout"),
    ({"model": {"layers": [{"type": "dense", "units": 8}, {"type": "batchnorm"}]}}, "batchnorm"),
    ({"training": {"optimizer": "rmsprop"}}, "rmsprop"),
    ({"model": {"layers": [{"type": "dense", "units": 200}]}}, "wider than"),
    ({"model": {"layers": [{"type": "dense", "units": 64}] * 2}, "training": {"batch_size": 64}}, "arithmetic-bound"),
])
def test_outside_scope_falls_back_visibly(patch: dict[str, Any], why: str) -> None:
    trainer = Trainer(parse_spec(merge_patch(BASE, patch)))
    assert trainer.engine == ENGINE_AUTOGRAD and isinstance(trainer.stepper, SupervisedStepper)
    summary = trainer.summary.to_dict()
    assert summary["engine"] == ENGINE_AUTOGRAD and why in summary["engine_why"]


def test_forecasting_and_images_stay_on_autograd() -> None:
    digits = parse_spec({"data": {"dataset": "digits", "n_samples": 200},
                         "model": {"layers": [{"type": "flatten"}, {"type": "dense", "units": 16}]},
                         "training": {"device": "cpu", "epochs": 1}})
    assert Trainer(digits).engine == ENGINE_AUTOGRAD

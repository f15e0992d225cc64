"""The insides' statistics against plain-torch hand computations, and the diagnosis rule's words."""

from __future__ import annotations

import math
import random
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from engine.causes import THRESHOLDS
from engine.diagnosis import diagnose
from engine.events import SnapshotEvent
from engine.insides import Insides, LayerInfo, build_insides, dead_share
from engine.spec import parse_spec
from engine.trainer import Trainer

ROOT = Path(__file__).resolve().parents[2]


def test_grad_and_weight_norms_of_a_small_mlp_match_plain_torch():
    spec = parse_spec({"data": {"dataset": "circle", "n_samples": 200},
                       "model": {"layers": [{"type": "dense", "units": 8, "activation": "tanh"}] * 2},
                       "training": {"device": "cpu", "epochs": 3}})
    trainer = Trainer(spec)
    trainer.step()
    ins = trainer.family.insides(spec, trainer.model, trainer.split, trainer.stepper)
    rec = ins.take(1, 0.01, 0.0, 0.0)
    # By hand: the same probe rows, a copy of the model, one forward and backward in eval mode.
    rows = Insides.probe_rows(len(trainer.stepper.x_train))
    x, y = trainer.stepper.x_train[rows], trainer.stepper.y_train[rows]
    linears = [m for m in trainer.model.modules() if isinstance(m, nn.Linear)]
    ws = [l.weight.detach().clone().requires_grad_(True) for l in linears]
    bs = [l.bias.detach().clone() for l in linears]
    h = x
    acts = []
    for w, b in zip(ws[:-1], bs[:-1]):
        h = torch.tanh(h @ w.T + b)  # (B, F) -> (B, 8)
        acts.append(h.detach())
    loss = nn.functional.cross_entropy(h @ ws[-1].T + bs[-1], y)
    loss.backward()
    assert math.isclose(rec["loss"], float(loss.detach()), rel_tol=1e-5)
    for layer, w, a in zip(rec["layers"], ws, acts + [None]):
        assert math.isclose(layer["grad_norm"], float(w.grad.norm()), rel_tol=1e-4)
        assert math.isclose(layer["weight_norm"], float(w.norm()), rel_tol=1e-5)
        assert math.isclose(layer["update_ratio"], 0.01 * float(w.grad.norm()) / float(w.norm()), rel_tol=1e-4)
        if a is not None:
            assert math.isclose(layer["act_mean"], float(a.mean()), rel_tol=1e-4, abs_tol=1e-6)
            assert math.isclose(layer["saturated"], float((a.abs() > 0.97).float().mean()), abs_tol=1e-9)
    # The probe left the training state alone: same grads as before (none here after a step's reset).
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in trainer.model.parameters())


def test_dead_share_of_a_relu_layer_with_bias_forced_negative():
    torch.manual_seed(0)
    lin = nn.Linear(3, 10)
    with torch.no_grad():
        lin.bias[:4] = -100.0  # these four units can never be positive on inputs in [-1, 1]
    model = nn.Sequential(nn.Sequential(lin, nn.ReLU()), nn.Linear(10, 2))
    x = torch.rand(64, 3) * 2 - 1
    y = torch.randint(0, 2, (64,))
    ins = Insides.of_loss(model, [LayerInfo(0, "dense 1", "relu"), LayerInfo(1, "output", None)], x, y,
                          nn.CrossEntropyLoss())
    rec = ins.take(1, 0.1, 0.0, 0.0)
    by_hand = float((torch.relu(x @ lin.weight.T + lin.bias).max(dim=0).values <= 0).float().mean())
    assert rec["layers"][0]["dead"] == by_hand >= 0.4
    assert dead_share(torch.zeros(5, 3)) == 1.0 and dead_share(torch.ones(5, 3)) == 0.0
    snap = ins.snapshot(1)
    assert snap["layers"][0]["dead"] == [by_hand] and len(snap["layers"][0]["hist"]["weights"]) == 1


def test_the_docs_state_every_threshold_with_its_value():
    spec_md = (ROOT / "docs" / "spec.md").read_text()
    section = spec_md[spec_md.index("## Diagnosis"):]
    for name, value in THRESHOLDS.items():
        shown = f"{value:g}"
        assert re.search(rf"`{name}`\s*\|\s*{re.escape(shown)}\s*\|", section), (name, shown)


def _history(rng: random.Random, n: int) -> dict[str, list]:
    start, floor = rng.uniform(0.5, 1.5), rng.uniform(0.01, 0.6)
    train = [floor + (start - floor) * math.exp(-i / rng.uniform(3, 30)) + rng.gauss(0, 0.01) for i in range(n)]
    turn, slope = rng.randrange(1, n), rng.uniform(-0.01, 0.01)
    gap = rng.uniform(-0.05, 0.6)
    val = [t + gap * min(1, i / n) + (slope * (i - turn) if i > turn else 0) + rng.gauss(0, 0.01)
           for i, t in enumerate(train)]
    return {"train_loss": [max(1e-4, t) for t in train], "val_loss": [max(1e-4, v) for v in val]}


def test_no_reason_calls_a_falling_val_loss_memorising_or_a_rising_one_improving():
    rng = random.Random(11)
    spec = parse_spec({"data": {"dataset": "circle"}, "model": {"layers": []}})
    seen = set()
    for _ in range(600):
        d = diagnose(_history(rng, rng.randrange(10, 200)), spec, math.log(2))
        seen.add(d.verdict)
        trend = d.facts.get("val_trend_per_10")
        if trend is None:
            continue
        if trend <= 0:
            assert "memorising" not in d.reason, d.reason
        if trend > 0:
            assert "improving" not in d.reason and "still falls" not in d.reason, d.reason
    assert {"overfitting", "good_fit", "underfitting"} <= seen


def test_a_gan_gets_rows_per_stack_each_measured_by_its_own_loss():
    """Multi-stack families: rows come from the stack names; G's gradients are of G's loss, D's of D's."""
    from engine.catalog import GAN_RING
    from engine.families.gan_step import fixed_latents
    from engine.spec import merge_patch

    spec = parse_spec(merge_patch(GAN_RING, {"data": {"n_samples": 300}, "training": {"epochs": 2, "device": "cpu"}}))
    trainer = Trainer(spec)
    events: list = []
    trainer.run(emit=events.append)
    view = [e.data for e in events if isinstance(e, SnapshotEvent) and e.kind == "insides"][-1]
    rows = [(l["stack"], l["layer"], l["name"]) for l in view["layers"]]
    assert rows == [("generator", 0, "dense 1"), ("generator", 1, "dense 2"), ("generator", None, "output"),
                    ("discriminator", 0, "dense 1"), ("discriminator", 1, "dense 2"),
                    ("discriminator", None, "output")]  # D's minibatch-std child is not a row
    g, d = trainer.model.generator, trainer.model.discriminator
    x = trainer.split.x_train[Insides.probe_rows(len(trainer.split.x_train))]
    z = fixed_latents(spec.training.seed + 1, spec.model.latent_dim, len(x))
    trainer.model.eval()
    fake = g(z)
    g_loss = F.softplus(-d(fake)).mean()
    (g_head,) = torch.autograd.grad(g_loss, [g[-1].weight])
    d_loss = F.softplus(d(fake.detach())).mean() + F.softplus(-d(x)).mean()
    (d_head,) = torch.autograd.grad(d_loss, [d[-1].weight])
    assert view["layers"][2]["grad_norm"][-1] == pytest.approx(float(g_head.norm()), rel=1e-3)
    assert view["layers"][5]["grad_norm"][-1] == pytest.approx(float(d_head.norm()), rel=1e-3)

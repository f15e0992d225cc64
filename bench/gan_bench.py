"""The 2-D GAN (batch 128) against a plain PyTorch GAN loop doing the same work, with each loss.

Both sides train the same G and D from the same seeds on the same ring split, one thread: per batch
one D step and one G step with the non-saturating loss (or WGAN-GP's critic loss and its gradient
penalty, a second backward through D), and once per epoch G's points for the fixed
latents scored by the energy distance against the validation points. The plain loop is written as
a user would (BCEWithLogitsLoss, zero_grad, the losses kept as tensors so it syncs once an epoch);
`Trainer.run()` also takes the views (Generated samples, Mode coverage) within their time budget.
The last epoch's distance must agree within 5%: BCEWithLogitsLoss and the engine's softplus differ in
the last bits, and a GAN's two-player dynamics amplify that over 30 epochs (tests/engine/test_generation.py
holds the two loops to 1e-4 over 3 epochs).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn

from bench.engine_bench import REPEATS, clock, table
from engine.spec import ExperimentSpec, parse_spec
from engine.trainer import Trainer

UNITS = 64


def _spec(loss: str = "standard") -> ExperimentSpec:
    dense = [{"type": "dense", "units": UNITS, "activation": "relu"}] * 2
    return parse_spec({"task": "generation", "data": {"dataset": "ring", "n_samples": 2000},
                       "model": {"latent_dim": 2, "generator": {"layers": dense}, "discriminator": {"layers": dense}},
                       "training": {"optimizer": "adam", "lr": 0.001, "batch_size": 128, "epochs": 30,
                                    "device": "cpu", "loss": loss}})


def plain(spec: ExperimentSpec, split) -> tuple[float, float]:
    """A textbook GAN loop (or WGAN-GP's); (CPU seconds, the last epoch's energy distance)."""
    t, latent = spec.training, spec.model.latent_dim
    critic = t.loss == "wasserstein_gp"
    torch.manual_seed(t.seed)
    g = nn.Sequential(nn.Linear(latent, UNITS), nn.ReLU(), nn.Linear(UNITS, UNITS), nn.ReLU(), nn.Linear(UNITS, 2))
    d = nn.Sequential(nn.Linear(2, UNITS), nn.ReLU(), nn.Linear(UNITS, UNITS), nn.ReLU(), nn.Linear(UNITS, 1))
    g_opt, d_opt = torch.optim.Adam(g.parameters(), lr=t.lr), torch.optim.Adam(d.parameters(), lr=t.lr)
    bce = nn.BCEWithLogitsLoss()
    shuffle = torch.Generator().manual_seed(t.seed)
    noise = torch.Generator().manual_seed(t.seed + 2)
    z_eval = torch.randn(1000, latent, generator=torch.Generator().manual_seed(t.seed + 3))
    x, xv = split.x_train, split.x_val
    n, bs = len(x), t.batch_size
    dist = math.nan
    start = clock()
    for _ in range(t.epochs):
        g.train()
        d.train()
        order = torch.randperm(n, generator=shuffle)
        sums = torch.zeros(4)
        for i in range(0, n, bs):
            real = x[order[i:i + bs]]
            fake = g(torch.randn(len(real), latent, generator=noise)).detach()
            r, f = d(real), d(fake)
            if critic:
                eps = torch.rand(len(real), 1, generator=noise)
                mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
                slope, = torch.autograd.grad(d(mixed).sum(), mixed, create_graph=True)
                d_loss = f.mean() - r.mean() + 10 * ((slope.norm(dim=1) - 1) ** 2).mean()
            else:
                d_loss = bce(r, torch.ones_like(r)) + bce(f, torch.zeros_like(f))
            d_opt.zero_grad()
            d_loss.backward()
            d_opt.step()
            f = d(g(torch.randn(len(real), latent, generator=noise)))
            g_loss = -f.mean() if critic else bce(f, torch.ones_like(f))
            g_opt.zero_grad()
            g_loss.backward()
            g_opt.step()
            with torch.no_grad():
                sums += torch.stack([d_loss, torch.sigmoid(r).mean(), torch.sigmoid(f).mean(), g_loss])
        sums.tolist()  # the epoch's means, one sync
        g.eval()
        with torch.no_grad():
            p = g(z_eval)
            dist = float(2 * torch.cdist(p, xv).mean() - torch.cdist(p, p).mean() - torch.cdist(xv, xv).mean())
    return clock() - start, dist


def engine_steps(spec: ExperimentSpec) -> tuple[float, float]:
    trainer = Trainer(spec)
    start = clock()
    for _ in range(spec.training.epochs):
        trainer.step()
    return clock() - start, trainer.history["distance"][-1]


def engine_run(spec: ExperimentSpec) -> tuple[float, float]:
    trainer = Trainer(spec)
    events: list = []
    start = clock()
    trainer.run(emit=events.append)
    elapsed = clock() - start
    assert any(getattr(e, "kind", None) == "gan_samples" for e in events)  # the views did update
    return elapsed, trainer.history["distance"][-1]


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
    same = all(abs(val[k] - val["plain"]) <= 0.05 * abs(val["plain"]) for k in val)
    loss = "WGAN-GP" if spec.training.loss == "wasserstein_gp" else "non-saturating"
    return {"name": f"2-D GAN 64x2 ring, {loss}", "steps": steps, "same": same,
            **{k: steps / best[k] for k in sides}}


def main() -> None:
    torch.set_num_threads(1)
    print(f"GAN engine vs plain PyTorch: G+D steps per CPU second, best of {REPEATS}, 1 thread, "
          f"torch {torch.__version__}")
    print(table([measure(_spec()), measure(_spec("wasserstein_gp"))]))

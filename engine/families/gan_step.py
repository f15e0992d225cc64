"""The GAN stepper: for each batch of real points, `d_steps` updates of D, then one update of G.

The losses (training.loss):
  standard        non-saturating: D minimises softplus(-D(x)) + softplus(D(G(z))), G minimises
                  softplus(-D(G(z))); d_real and d_fake are the means of sigmoid(D) on each.
  wasserstein_gp  WGAN-GP (Gulrajani et al., 2017): D is a critic whose scores are not
                  probabilities; it minimises mean D(G(z)) - mean D(x) + GP_WEIGHT * mean
                  (|grad D(x_hat)| - 1)^2 over x_hat = eps x + (1 - eps) G(z), eps ~ U(0, 1) per
                  point, and G minimises -mean D(G(z)). w_distance is mean D(x) - mean D(G(z)), the
                  critic's estimate of the Wasserstein distance; d_real and d_fake are null.

Reproducibility (on top of engine/trainer.py's protocol): the latent noise of training comes from a
CPU torch.Generator seeded with training.seed + 2, drawn as randn(batch, latent_dim) once per D
step (then, for wasserstein_gp, rand(batch, 1) for eps) and once per G step, in that order; the
fixed latent points that evaluation and the views use come from one seeded with training.seed + 3
(EVAL_POINTS of them, drawn once).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Optional

import torch
from torch import nn
from torch.nn.functional import softplus

from ..data import Split
from ..family import Stepper
from ..optimizers import OPTIMIZERS
from .gan_metrics import coverage, energy_distance
from .supervised_step import unnested

if TYPE_CHECKING:
    from ..spec import ExperimentSpec

GP_WEIGHT = 10.0  # the gradient penalty's weight (the paper's, for all its experiments)
EVAL_POINTS = 1000  # fixed latent points: the distance, the mode count and the views' samples
NOISE_SEED = 2  # offsets from training.seed (dropout uses + 1)
EVAL_SEED = 3


def is_wasserstein(spec: "ExperimentSpec") -> bool:
    return spec.training.loss == "wasserstein_gp"


def g_loss_of(d_out: torch.Tensor, wasserstein: bool) -> torch.Tensor:
    """G's loss from D's outputs on its points (N, 1): -mean D for a critic, else softplus(-D)'s mean."""
    return -d_out.mean() if wasserstein else softplus(-d_out).mean()


def d_loss_of(real_out: torch.Tensor, fake_out: torch.Tensor, wasserstein: bool) -> torch.Tensor:
    """D's loss from its outputs on real and generated points, without the gradient penalty."""
    if wasserstein:
        return fake_out.mean() - real_out.mean()
    return softplus(-real_out).mean() + softplus(fake_out).mean()


def gradient_penalty(d: nn.Module, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """mean (|grad D(x_hat)| - 1)^2 at x_hat = eps real + (1 - eps) fake (B, 2), eps (B, 1); with a graph."""
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(d(x_hat).sum(), x_hat, create_graph=True)  # (B, 2)
    return ((grad.norm(2, dim=1) - 1) ** 2).mean()


def fixed_latents(seed: int, latent_dim: int, n: int = EVAL_POINTS) -> torch.Tensor:
    """The run's fixed latent points (n, latent_dim), the same in every epoch and every view."""
    return torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed + EVAL_SEED))


class GanStepper(Stepper):
    """Trains a GanNet's generator and discriminator, each with its own optimizer of the spec's kind."""

    def __init__(self, net: nn.Module, split: Split, device: torch.device, spec: "ExperimentSpec",
                 modes: Optional[tuple[torch.Tensor, float]]) -> None:
        t = spec.training
        self.net, self.device = net, device
        self.g, self.d = unnested(net.generator), unnested(net.discriminator)
        self.g_params, self.d_params = list(net.generator.parameters()), list(net.discriminator.parameters())
        d_lr = t.d_lr if t.d_lr is not None else t.lr
        self.d_ratio = d_lr / t.lr  # the schedule and live lr changes move both, keeping this ratio
        self.g_opt = OPTIMIZERS.get(t.optimizer)(self.g_params, t.lr)
        self.d_opt = OPTIMIZERS.get(t.optimizer)(self.d_params, d_lr)
        self.d_steps = t.d_steps or 1
        self.wasserstein = is_wasserstein(spec)
        self.latent = spec.model.latent_dim
        self.noise = torch.Generator().manual_seed(t.seed + NOISE_SEED)
        self.x_train = split.x_train.to(device)
        self.x_val = split.x_val.to(device)
        self.z_eval = fixed_latents(t.seed, self.latent).to(device)
        self.modes = None if modes is None else (modes[0].to(device), modes[1])

    def set_lr(self, lr: float) -> None:
        for group in self.g_opt.param_groups:
            group["lr"] = lr
        for group in self.d_opt.param_groups:
            group["lr"] = lr * self.d_ratio

    def _z(self, b: int) -> torch.Tensor:
        return torch.randn(b, self.latent, generator=self.noise).to(self.device)  # (B, latent_dim)

    def train_epoch(self, order: torch.Tensor, batch_size: int) -> tuple[dict[str, Optional[float]], float]:
        """One pass over the real points in `order`; the means of both losses and of D's outputs."""
        xs = self.x_train[order.to(self.device)]
        n = len(xs)
        g, d, g_opt, d_opt, wgan = self.g, self.d, self.g_opt, self.d_opt, self.wasserstein
        self.net.train()
        sums = torch.zeros(4, device=self.device)  # d_loss, D on real, D on fake (per D step), g_loss (per G step)
        d_count = 0
        t0 = time.perf_counter()
        for i in range(0, n, batch_size):
            real = xs[i:i + batch_size]  # (B, 2)
            b = len(real)
            for _ in range(self.d_steps):
                with torch.no_grad():
                    fake = g(self._z(b))  # (B, 2), no graph through G for D's step
                real_out, fake_out = d(real), d(fake)  # (B, 1) each: logits, or a critic's scores
                d_loss = d_loss_of(real_out, fake_out, wgan)
                if wgan:
                    eps = torch.rand(b, 1, generator=self.noise).to(self.device)
                    d_loss = d_loss + GP_WEIGHT * gradient_penalty(d, real, fake, eps)
                for p in self.d_params:
                    p.grad = None
                d_loss.backward()
                d_opt.step()
                with torch.no_grad():
                    seen = (real_out.mean(), fake_out.mean()) if wgan else \
                        (torch.sigmoid(real_out).mean(), torch.sigmoid(fake_out).mean())
                    sums[:3] += torch.stack([d_loss.detach(), *seen])
                d_count += 1
            g_loss = g_loss_of(d(g(self._z(b))), wgan)  # standard: non-saturating, -log D(G(z))
            for p in self.g_params:
                p.grad = None
            g_loss.backward()  # D's gradients from this step are dropped before D's next step
            g_opt.step()
            sums[3] += g_loss.detach()
        steps = math.ceil(n / batch_size)
        s = sums.tolist()
        step_time = (time.perf_counter() - t0) / steps
        out: dict[str, Optional[float]] = {"d_loss": s[0] / d_count, "g_loss": s[3] / steps}
        if wgan:
            out.update(d_real=None, d_fake=None, w_distance=(s[1] - s[2]) / d_count)
        else:
            out.update(d_real=s[1] / d_count, d_fake=s[2] / d_count, w_distance=None)
        return out, step_time

    @torch.no_grad()
    def samples(self) -> torch.Tensor:
        """G's points for the fixed latents, in eval mode: (EVAL_POINTS, 2)."""
        was = self.net.training
        self.net.eval()
        out = self.net.generator(self.z_eval)
        self.net.train(was)
        return out

    def evaluate(self) -> dict[str, Optional[float]]:
        fake = self.samples()
        covered = coverage(fake, self.modes)
        return {"distance": energy_distance(fake, self.x_val),
                "modes_covered": None if covered is None else float(covered)}

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.net.state_dict()

    def load_state_dict(self, sd: dict[str, torch.Tensor]) -> None:
        self.net.load_state_dict(sd)

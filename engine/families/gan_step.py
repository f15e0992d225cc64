"""The GAN stepper: for each batch of real points, `d_steps` updates of D, then one update of G.

Reproducibility (on top of engine/trainer.py's protocol): the latent noise of training comes from a
CPU torch.Generator seeded with training.seed + 2, drawn as randn(batch, latent_dim) once per D
step and once per G step, in that order; the fixed latent points that evaluation and the views use
come from one seeded with training.seed + 3 (EVAL_POINTS of them, drawn once).
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

EVAL_POINTS = 1000  # fixed latent points: the distance, the mode count and the views' samples
NOISE_SEED = 2  # offsets from training.seed (dropout uses + 1)
EVAL_SEED = 3


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
        g, d, g_opt, d_opt = self.g, self.d, self.g_opt, self.d_opt
        self.net.train()
        sums = torch.zeros(4, device=self.device)  # d_loss, d_real, d_fake (per D step), g_loss (per G step)
        d_count = 0
        t0 = time.perf_counter()
        for i in range(0, n, batch_size):
            real = xs[i:i + batch_size]  # (B, 2)
            b = len(real)
            for _ in range(self.d_steps):
                with torch.no_grad():
                    fake = g(self._z(b))  # (B, 2), no graph through G for D's step
                real_logit, fake_logit = d(real), d(fake)  # (B, 1) each
                d_loss = softplus(-real_logit).mean() + softplus(fake_logit).mean()
                for p in self.d_params:
                    p.grad = None
                d_loss.backward()
                d_opt.step()
                with torch.no_grad():
                    sums[:3] += torch.stack([d_loss, torch.sigmoid(real_logit).mean(),
                                             torch.sigmoid(fake_logit).mean()])
                d_count += 1
            g_loss = softplus(-d(g(self._z(b)))).mean()  # non-saturating: -log D(G(z))
            for p in self.g_params:
                p.grad = None
            g_loss.backward()  # D's gradients from this step are dropped before D's next step
            g_opt.step()
            sums[3] += g_loss.detach()
        steps = math.ceil(n / batch_size)
        s = sums.tolist()
        step_time = (time.perf_counter() - t0) / steps
        return {"d_loss": s[0] / d_count, "d_real": s[1] / d_count, "d_fake": s[2] / d_count,
                "g_loss": s[3] / steps}, step_time

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

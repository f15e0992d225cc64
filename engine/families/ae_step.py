"""The autoencoder stepper: per batch, `mse(model(x + noise), x)`, one optimizer over both stacks.

Reproducibility (on top of engine/trainer.py's protocol): with training.denoise = s > 0, the
training noise comes from a CPU torch.Generator seeded with training.seed + 2, one
s * randn(batch, *input_shape) per step, in batch order; the validation noise from one seeded with
training.seed + 3, s * randn(n_val, *input_shape), drawn once. With s = 0 nothing is drawn.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Optional

import torch
from torch import nn
from torch.nn.functional import mse_loss

from ..data import Split
from ..family import Stepper
from ..model import penalized
from ..optimizers import OPTIMIZERS
from .supervised_step import EVAL_CHUNK, unnested

if TYPE_CHECKING:
    from ..spec import ExperimentSpec

NOISE_SEED = 2  # offsets from training.seed (dropout uses + 1)
VAL_NOISE_SEED = 3


def val_noise(seed: int, denoise: float, shape: tuple[int, ...]) -> Optional[torch.Tensor]:
    """The validation set's fixed noise (n_val, *input_shape), or None without denoising."""
    if denoise <= 0:
        return None
    return denoise * torch.randn(*shape, generator=torch.Generator().manual_seed(seed + VAL_NOISE_SEED))


class AutoencoderStepper(Stepper):
    """Trains an AutoencoderNet to rebuild its (clean) input, with the spec's optimizer and l1/l2."""

    def __init__(self, net: nn.Module, split: Split, device: torch.device, spec: "ExperimentSpec") -> None:
        t = spec.training
        self.model, self.device = net, device
        self.forward = nn.Sequential(*unnested(net.encoder), *unnested(net.decoder))
        self.optimizer = OPTIMIZERS.get(t.optimizer)(net.parameters(), t.lr)
        self.params = [p for group in self.optimizer.param_groups for p in group["params"]]
        self.l1, self.l2 = t.l1, t.l2
        self.penalized = penalized(net)
        self.denoise = float(t.denoise or 0.0)
        self.noise = torch.Generator().manual_seed(t.seed + NOISE_SEED)
        self.x_train = split.x_train.to(device)
        self.x_val = split.x_val.to(device)
        noise = val_noise(t.seed, self.denoise, tuple(split.x_val.shape))
        self.x_val_in = self.x_val if noise is None else self.x_val + noise.to(device)  # what the encoder sees
        self.noisy_loss = None if noise is None else float((noise ** 2).mean())  # the identity's loss

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def set_l2(self, l2: float) -> None:
        self.l2 = l2

    def penalty(self) -> torch.Tensor | float:
        """l2 * sum(w^2) + l1 * sum(|w|) over weight matrices and kernels."""
        pen: torch.Tensor | float = 0.0
        if self.l2 > 0:
            pen = pen + self.l2 * sum((p * p).sum() for p in self.penalized)
        if self.l1 > 0:
            pen = pen + self.l1 * sum(p.abs().sum() for p in self.penalized)
        return pen

    def train_epoch(self, order: torch.Tensor, batch_size: int) -> tuple[dict[str, Optional[float]], float]:
        """One pass in `order`; the same dispatch savings as the supervised stepper (no per-step sync)."""
        n = len(self.x_train)
        xs = self.x_train[order.to(self.device)]
        self.model.train()
        forward, optimizer, params = self.forward, self.optimizer, self.params
        use_penalty = self.l1 > 0 or self.l2 > 0
        s = self.denoise
        loss_sum = torch.zeros((), device=self.device)
        t0 = time.perf_counter()
        for i in range(0, n, batch_size):
            xb = xs[i:i + batch_size]  # (B, *input_shape): the clean target
            inp = xb if s <= 0 else xb + (s * torch.randn(xb.shape, generator=self.noise)).to(self.device)
            loss = mse_loss(forward(inp), xb)
            total = loss + self.penalty() if use_penalty else loss
            for p in params:
                p.grad = None
            total.backward()
            optimizer.step()
            loss_sum.add_(loss.detach(), alpha=len(xb))
        step_time = (time.perf_counter() - t0) / math.ceil(n / batch_size)
        return {"train_loss": loss_sum.item() / n}, step_time

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The model's reconstructions of `x` in eval mode, in chunks."""
        was = self.model.training
        self.model.eval()
        out = torch.cat([self.forward(x[i:i + EVAL_CHUNK]) for i in range(0, len(x), EVAL_CHUNK)])
        self.model.train(was)
        return out

    def evaluate(self) -> dict[str, Optional[float]]:
        """val_loss: the (noisy, when denoising) validation inputs rebuilt against the clean ones."""
        val = float(mse_loss(self.reconstruct(self.x_val_in), self.x_val))
        return {"val_loss": val, "noisy_loss": self.noisy_loss}

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def load_state_dict(self, sd: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(sd)

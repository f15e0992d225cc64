"""The GAN's views: "Generated samples" (real points, G's points for the fixed latents, D's decision
heatmap behind them, and GAN Lab's gradient arrows) and the mode-coverage strip. A critic's
(wasserstein_gp) heatmap is its score scaled from its lowest on the grid to its highest
(`heat_kind` "critic"), D's otherwise its P(real) ("probability").

The arrows start at G(z) for a fixed set of ARROWS latent points and point the way G's loss pushes
each point, -d g_loss / d G(z) (GAN Lab's "gradient field"), scaled so the longest is ARROW_LEN of
the plot's width; `latent` holds those z (the first two coordinates) so the page can show where
they came from.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..data import find
from ..families.gan_metrics import COVER_SHARE, mode_shares
from ..families.gan_step import fixed_latents, g_loss_of, is_wasserstein
from ..views import View, ViewData, model_device, register_view, rounded
from .plane import _bounds

GRID = 48  # heatmap cells per side
POINTS = 500  # real and generated points drawn
ARROWS = 36
ARROW_LEN = 0.06


def _bounds2(x: torch.Tensor, y: torch.Tensor) -> tuple[tuple[float, float], tuple[float, float]]:
    both = torch.cat([x, y.clamp(-10, 10)])  # a wild G must not shrink the data to a dot
    return _bounds(both, 0), _bounds(both, 1)


def take_samples(model: nn.Module, data: ViewData, epoch: int) -> dict[str, Any]:
    """Real and generated points, D's output on a grid, and the gradient arrows."""
    device = model_device(model)
    z = fixed_latents(data.spec.training.seed, _latent_dim(model)).to(device)
    fake = model.generator(z[:POINTS])  # (P, 2)
    real = data.split.x_train[:POINTS]
    (x0, x1), (y0, y1) = _bounds2(real, fake.cpu())
    gx, gy = torch.linspace(x0, x1, GRID), torch.linspace(y0, y1, GRID)
    yy, xx = torch.meshgrid(gy, gx, indexing="ij")  # row r holds y = gy[r]
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1).to(device)  # (G*G, 2)
    mbstd = [m for m in model.discriminator.modules() if hasattr(m, "value")]  # a MinibatchStd
    for m in mbstd:  # a grid is no batch: ask D about each point as if in a batch of real points
        m.value = float(data.split.x_train.std(dim=0, unbiased=False).mean())
    critic = is_wasserstein(data.spec)
    try:
        out = model.discriminator(pts)[:, 0].cpu()  # (G*G,)
    finally:
        for m in mbstd:
            m.value = None
    if critic:  # a critic's scores have no scale: from its lowest on the grid (0) to its highest (1)
        heat = (out - out.min()) / (out.max() - out.min()).clamp_min(1e-12)
    else:
        heat = torch.sigmoid(out)  # D's P(real)
    with torch.enable_grad():
        start = model.generator(z[:ARROWS]).detach().requires_grad_(True)  # (A, 2)
        (g_loss_of(model.discriminator(start), critic) * len(start)).backward()  # the sum of G's per-point losses
        push = -start.grad  # (A, 2): where G's loss moves each point
    scale = ARROW_LEN * (x1 - x0) / float(push.norm(dim=1).max().clamp_min(1e-12))
    return {"x": [x0, x1], "y": [y0, y1], "n": GRID, "heat": rounded(heat, 2),
            "real": rounded(real, 3), "real_label": data.split.y_train[:POINTS].tolist(),
            "fake": rounded(fake.cpu(), 3), "arrow_from": rounded(start.detach().cpu(), 3),
            "arrow_to": rounded((start + push * scale).detach().cpu(), 3),
            "latent": rounded(z[:ARROWS, :2].cpu(), 3), "heat_kind": "critic" if critic else "probability"}


def take_coverage(model: nn.Module, data: ViewData, epoch: int) -> dict[str, Any]:
    """The share of G's points near each mode (ring, grid), and whether that counts as covered."""
    ds = find(data.spec.data.dataset)
    if not hasattr(ds, "modes"):
        return {"shares": [], "covered": None, "threshold": None, "centres": []}
    centres, sigma = ds.modes()
    device = model_device(model)
    fake = model.generator(fixed_latents(data.spec.training.seed, _latent_dim(model)).to(device)).cpu()  # (EVAL_POINTS, 2)
    shares = mode_shares(fake, torch.as_tensor(centres, dtype=torch.float32), float(sigma))  # (K,)
    k = len(shares)
    return {"shares": rounded(shares, 3), "covered": int((shares >= COVER_SHARE / k).sum()),
            "threshold": COVER_SHARE / k, "centres": rounded(torch.as_tensor(centres), 3)}


def _latent_dim(model: nn.Module) -> int:
    first = next(m for m in model.generator.modules() if isinstance(m, nn.Linear))
    return first.in_features


def _is_gan(task: Any, data: Any) -> bool:
    return getattr(task, "name", None) == "generation"


register_view(View("gan_samples", "Generated samples", _is_gan, take_samples, tasks=("generation",),
                   data_kinds=("2d",), budget=2.0))
# Data with modes: of the 2-D data a GAN takes, ring and grid have more than two labels (moons, spiral two).
register_view(View("mode_coverage", "Mode coverage",
                   lambda task, data: _is_gan(task, data) and (data.n_classes or 0) > 2,
                   take_coverage, tasks=("generation",), data_kinds=("2d",), budget=0.5))

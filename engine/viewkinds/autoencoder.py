"""The autoencoder's views: "Reconstructions" (originals over their reconstructions; when denoising,
noisy input, reconstruction, clean), "Latent space" (the validation codes coloured by label, a PCA
projection of them when latent_dim > 2) and "Latent walk" (for latent_dim = 2: the decoder's output
on a grid of the latent plane).

Image data is sent as (H, W) images of the first channel; other data (2-D points, table rows) as
rows of values, the first two of which the page plots.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..families.ae_step import val_noise
from ..views import View, ViewData, model_device, register_view, rounded

SHOWN = 8  # validation images in the reconstructions grid
POINTS = 300  # validation rows of non-image data
CODES = 1000  # validation codes in the latent map
WALK = 9  # cells per side of the latent walk


def _rows(x: torch.Tensor, image: bool) -> list:
    """(N, C, H, W) -> N images (H, W) of the first channel; (N, F) -> N rows."""
    return rounded(x[:, 0] if image else x.reshape(len(x), -1), 3)


def take_reconstructions(model: nn.Module, data: ViewData, epoch: int) -> dict[str, Any]:
    """The first validation inputs, what the encoder saw (noisy when denoising), and the reconstructions."""
    spec, split = data.spec, data.split
    image = len(split.input_shape) == 3
    n = SHOWN if image else POINTS
    clean = split.x_val[:n]
    noise = val_noise(spec.training.seed, float(spec.training.denoise or 0.0), tuple(split.x_val.shape))
    seen = clean if noise is None else clean + noise[:n]  # the same noise as val_loss's
    out = model(seen.to(model_device(model))).cpu()
    return {"image": image, "clean": _rows(clean, image), "noisy": None if noise is None else _rows(seen, image),
            "recon": _rows(out, image), "labels": split.y_val[:n].reshape(-1).tolist(),
            "mse": round(float(((out - clean) ** 2).mean()), 5),
            "noisy_mse": None if noise is None else round(float(((seen - clean) ** 2).mean()), 5)}


def project(codes: torch.Tensor) -> tuple[torch.Tensor, list[float]]:
    """Codes (N, K) -> their first two principal components (N, 2), and the variance share of each.
    Codes of K <= 2 are returned as they are (padded with zeros to two columns when K = 1)."""
    k = codes.shape[1]
    if k <= 2:
        return torch.cat([codes, torch.zeros(len(codes), 2 - k)], dim=1), []
    centred = codes - codes.mean(dim=0, keepdim=True)
    _, s, v = torch.linalg.svd(centred, full_matrices=False)  # v: (K, K), rows are the directions
    var = s ** 2
    return centred @ v[:2].T, [round(float(x), 4) for x in (var[:2] / var.sum().clamp_min(1e-12))]


def take_latent(model: nn.Module, data: ViewData, epoch: int) -> dict[str, Any]:
    """The validation set's codes (PCA-projected when latent_dim > 2), with their labels."""
    x = data.split.x_val[:CODES]
    codes = model.encoder(x.to(model_device(model))).cpu()  # (N, latent_dim)
    pts, share = project(codes)
    return {"latent_dim": int(codes.shape[1]), "pca": codes.shape[1] > 2, "explained": share,
            "points": rounded(pts, 3), "labels": data.split.y_val[:CODES].reshape(-1).tolist(),
            "n_classes": data.split.n_classes}


def take_walk(model: nn.Module, data: ViewData, epoch: int) -> dict[str, Any]:
    """For latent_dim = 2: the decoder's output on a WALK x WALK grid spanning the codes' middle 96%."""
    device = model_device(model)
    codes = model.encoder(data.split.x_val[:CODES].to(device)).cpu()  # (N, latent_dim)
    if codes.shape[1] != 2:
        return {"latent_dim": int(codes.shape[1]), "images": [], "points": []}
    lo, hi = torch.quantile(codes, 0.02, dim=0), torch.quantile(codes, 0.98, dim=0)  # (2,) each
    gx = torch.linspace(float(lo[0]), float(hi[0]), WALK)
    gy = torch.linspace(float(hi[1]), float(lo[1]), WALK)  # row 0 is the top: the highest z2
    yy, xx = torch.meshgrid(gy, gx, indexing="ij")
    z = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)  # (WALK*WALK, 2), row by row
    out = model.decoder(z.to(device)).cpu()
    image = len(data.split.input_shape) == 3
    return {"latent_dim": 2, "n": WALK, "x": [round(float(lo[0]), 3), round(float(hi[0]), 3)],
            "y": [round(float(lo[1]), 3), round(float(hi[1]), 3)], "image": image,
            "images": _rows(out, True) if image else [], "points": [] if image else _rows(out, False)}


def _is_ae(task: Any, data: Any) -> bool:
    return getattr(task, "name", None) == "reconstruction"


KINDS = ("image", "2d", "table")
register_view(View("reconstructions", "Reconstructions", _is_ae, take_reconstructions, tasks=("reconstruction",),
                   data_kinds=KINDS))
register_view(View("latent_space", "Latent space", _is_ae, take_latent, tasks=("reconstruction",),
                   data_kinds=KINDS))
register_view(View("latent_walk", "Latent walk", _is_ae, take_walk, tasks=("reconstruction",),
                   data_kinds=KINDS, budget=0.5))

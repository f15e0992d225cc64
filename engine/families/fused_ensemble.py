"""An ensemble of K dense nets on the fused path: one batched matmul per layer for all K (issue 16).

Each layer's weights are stacked, W (K, out, in) and b (K, out), and every member's nn.Linear holds
a view of its slice, so member 0's module (the views, insides, the weights file) reads live weights
as in a single run. The arithmetic is FusedDenseStepper's, which reads only the last two axes: the
shared input batch (B, in) broadcasts against W, activations are (K, B, units), and Adam's and
momentum's state is stacked like the weights, so each member's update is its own (all are
elementwise). Member k is therefore the single run of init seed `seed + k` with the shared batch
order (tests/engine/test_ensemble_oracle.py checks it against a plain PyTorch loop).
"""

from __future__ import annotations

import math
import time
from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn

from ..data import Split
from .ensemble import MemberStates, spread
from .fused_dense import FusedDenseStepper


class FusedEnsembleStepper(MemberStates, FusedDenseStepper):
    """K dense stacks of one shape, trained together on the fused path."""

    def __init__(self, members: list[nn.Sequential], split: Split, *, spread_names: Sequence[str],
                 **kwargs) -> None:
        super().__init__(members[0], split, **kwargs)  # member 0's views, then stacked below
        self.members = members
        self.k = len(members)
        self.spread_names = tuple(spread_names)
        lins = [[m for m in member.modules() if isinstance(m, nn.Linear)] for member in members]
        for i, L in enumerate(self.layers):
            L.W = np.stack([lin[i].weight.detach().numpy() for lin in lins])  # (K, out, in)
            L.b = np.stack([lin[i].bias.detach().numpy() for lin in lins])  # (K, out)
            for k, lin in enumerate(lins):  # each member's parameters become views of its slice
                lin[i].weight.data = torch.from_numpy(L.W[k])
                lin[i].bias.data = torch.from_numpy(L.b[k])

    def _rows(self, prefix: str, out: np.ndarray, y: np.ndarray) -> list[dict[str, Optional[float]]]:
        """One metrics row per member from logits (K, N, C)."""
        losses, accs = self._member_metrics(out, y)
        rows: list[dict[str, Optional[float]]] = []
        for k in range(self.k):
            row: dict[str, Optional[float]] = {f"{prefix}_loss": float(losses[k])}
            if self.classes:
                row[f"{prefix}_acc"] = float(accs[k])  # type: ignore[index]
            rows.append(row)
        return rows

    def train_epoch(self, order: torch.Tensor, batch_size: int) -> tuple[dict[str, Optional[float]], float]:
        """One pass in `order` for all K members; the step time is the K members' batched step."""
        idx = order.numpy()
        xs, ys = self.x_train.numpy()[idx], self.y_train.numpy()[idx]
        n = len(xs)
        outs = np.empty((self.k, n, self.layers[-1].W.shape[-2]), dtype=self.dtype)  # (K, N, C)
        t0 = time.perf_counter()
        with np.errstate(all="ignore"):  # a diverging member's overflow is the trainer's to report
            for i in range(0, n, batch_size):
                self._step(xs[i:i + batch_size], ys[i:i + batch_size], outs[:, i:i + batch_size])
            step_time = (time.perf_counter() - t0) / math.ceil(n / batch_size)
            rows = self._rows("train", outs, ys)
        return spread(rows, self.spread_names), step_time

    def _logits(self, x: torch.Tensor) -> np.ndarray:
        """Every member's logits on x: (K, N, C)."""
        xn = x.detach().numpy()
        step = self.eval_chunk
        return np.concatenate([self._forward(xn[i:i + step])[-1][1] for i in range(0, len(xn), step)], axis=-2)

    def evaluate_on(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, Optional[float]]:
        """The members' mean (loss, accuracy or None) on (x, y)."""
        with np.errstate(all="ignore"):
            losses, accs = self._member_metrics(self._logits(x), y.detach().numpy())
        return float(np.mean(losses)), (None if accs is None else float(np.mean(accs)))

    def evaluate(self) -> dict[str, Optional[float]]:
        with np.errstate(all="ignore"):
            rows = self._rows("val", self._logits(self.x_val), self.y_val.detach().numpy())
        return spread(rows, self.spread_names)

    def member_states(self) -> list[dict[str, torch.Tensor]]:
        return [m.state_dict() for m in self.members]

    def load_member(self, k: int, sd: dict[str, torch.Tensor]) -> None:
        self.members[k].load_state_dict(sd)  # copies into the stacked storage, which the views share

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.members[0].state_dict()  # saved, exported and shown: member 0, the run of `seed`

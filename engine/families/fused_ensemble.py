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
            L.Wt = L.W.swapaxes(-1, -2)  # (K, in, out), a view
            for k, lin in enumerate(lins):  # each member's parameters become views of its slice
                lin[i].weight.data = torch.from_numpy(L.W[k])
                lin[i].bias.data = torch.from_numpy(L.b[k])
        self.keys = list(members[0].state_dict())  # weight, bias of each Linear in order
        assert len(self.keys) == 2 * len(self.layers), "a dense stack's state is its Linears' weights and biases"
        self._ones: dict[int, np.ndarray] = {}  # (B,) ones per batch size: sums as one BLAS call
        self.ones_c = np.ones((self.layers[-1].W.shape[-2], 1), dtype=self.dtype)

    # numpy reduces a tiny axis row by row, and the ensemble has K times the rows: the batch and
    # class sums below are matmuls with a vector of ones instead (one BLAS call each, 2-3x faster at
    # K = 8; the rounding is BLAS's summation order, within the oracle's 1e-9 in float64).
    def _bias_grad(self, gz: np.ndarray) -> np.ndarray:
        b = gz.shape[-2]
        ones = self._ones.get(b)
        if ones is None:
            ones = self._ones[b] = np.ones(b, dtype=self.dtype)
        return ones @ gz  # (B,) @ (K, B, out) -> (K, out)

    def _loss_grad(self, out: np.ndarray, y: np.ndarray) -> np.ndarray:
        b = out.shape[-2]
        if not self.classes:
            return (out - y) * (2.0 / (b * out.shape[-1]))
        c = out.shape[-1]
        if c <= 4:  # the row max column by column: exact, and cheaper than a reduce over a tiny axis
            m = out[..., 0:1]
            for j in range(1, c):
                m = np.maximum(m, out[..., j:j + 1])
        else:
            m = out.max(axis=-1, keepdims=True)
        e = np.exp(out - m)  # (K, B, C)
        e /= e @ self.ones_c
        e -= self.eye[y]  # type: ignore[index]
        e *= 1.0 / b
        return e

    # The trainer's copies (best epoch, early stopping) are the stacked arrays, not K state_dicts.
    def snapshot(self) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for i, L in enumerate(self.layers):
            out[f"stack.{i}.weight"] = torch.from_numpy(L.W)  # (K, out, in)
            out[f"stack.{i}.bias"] = torch.from_numpy(L.b)  # (K, out)
        return out

    def restore(self, snap: dict[str, torch.Tensor]) -> None:
        for i, L in enumerate(self.layers):
            np.copyto(L.W, snap[f"stack.{i}.weight"].numpy())
            np.copyto(L.b, snap[f"stack.{i}.bias"].numpy())

    def saved(self, snap: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Member 0's slice of each stacked array, under the model's own keys."""
        parts = [snap[f"stack.{i}.{name}"][0] for i in range(len(self.layers)) for name in ("weight", "bias")]
        return dict(zip(self.keys, parts))

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

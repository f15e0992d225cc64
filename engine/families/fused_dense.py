"""The fused dense stepper: a small stack of dense layers trained with a hand-derived backward.

On the playground's own nets (2-D toys through a few layers of 4 to 16 units) a training step is
a few hundred microseconds of PyTorch's per-op dispatch, autograd's graph and the optimizer's
bookkeeping, and almost no arithmetic (issue 16). This stepper does the same arithmetic in numpy
on views of the model's own parameters: forward, backward and the update are a few array calls
per layer, with no graph, no module calls and no optimizer object. The model's tensors are updated
in place, so views, insides, early stopping's copies and export read the same weights as ever.

It is exact, not approximate: the backward is autograd's (engine/families/fused_acts.py), the
optimizers are torch's formulas, and tests/engine/test_fused_oracle.py checks per-epoch losses
against the autograd stepper. `fused_scope` says which specs it takes; anything else (dropout,
batchnorm, conv, recurrent layers, another optimizer, a GPU, a big net) trains on autograd.
"""

from __future__ import annotations

import math
import time
from typing import Any, Optional

import numpy as np
import torch
from torch import nn

from ..data import Split
from ..family import Stepper
from .fused_acts import ACTS, Act

ENGINE_FUSED = "fused-dense"
ENGINE_AUTOGRAD = "autograd"
MAX_UNITS = 128  # widest layer (input included) it takes: beyond, arithmetic, not dispatch, is the cost
# Largest m * n * k of one matmul: OpenBLAS (numpy's BLAS) runs a GEMM below 65536 * 4 on one thread
# (interface/gemm.c, SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD), so under this cap numpy never
# starts BLAS threads beside a run's single torch thread, without a thread-limiting dependency.
MAX_GEMM = 65536
OPTIMIZERS = ("sgd", "momentum", "adam")
BETAS, EPS, MOMENTUM = (0.9, 0.999), 1e-8, 0.9  # torch's Adam defaults; engine/optimizers.py's momentum


def fused_scope(spec: Any, input_shape: tuple[int, ...], widths: list[int], device: torch.device) -> Optional[str]:
    """None when the fused stepper trains this spec exactly, else why it does not (said on the page)."""
    layers = spec.model.layers
    t = spec.training
    if device.type != "cpu":
        return f"the fused path runs on the CPU, not {device.type}"
    if len(input_shape) != 1:
        return "the input is not a feature vector"
    for i, layer in enumerate(layers):
        if layer.type != "dense":
            return f"model.layers[{i}] is {layer.type}: the fused path takes dense layers only"
        if layer.activation not in ACTS:
            return f"model.layers[{i}]'s activation {layer.activation!r} has no fused backward"
    if t.optimizer not in OPTIMIZERS:
        return f"optimizer {t.optimizer!r} is not fused (only {', '.join(OPTIMIZERS)})"
    if max([input_shape[0], *widths]) > MAX_UNITS:
        return f"a layer is wider than {MAX_UNITS} units: autograd's kernels win there"
    if t.batch_size * largest_layer(input_shape[0], widths) > MAX_GEMM:
        return f"batch {t.batch_size} on these widths is arithmetic-bound: autograd's kernels win there"
    return None


def largest_layer(n_in: int, widths: list[int]) -> int:
    """The largest in * out over the dense layers (the head included)."""
    sizes = [n_in, *widths]
    return max(a * b for a, b in zip(sizes, sizes[1:]))


class _Layer:
    """One dense layer's numpy views: W (out, in), b (out,), their optimizer state, its activation."""

    def __init__(self, linear: nn.Linear, act: Act) -> None:
        self.W = linear.weight.detach().numpy()  # shares memory with the module's parameter
        self.b = linear.bias.detach().numpy()
        self.Wt = self.W.T  # (in, out): a view, so it follows the in-place updates
        self.act = act
        self.state: dict[str, list[np.ndarray]] = {}


def _linears(model: nn.Sequential, activations: list[str]) -> list[_Layer]:
    """The model's Linear modules in order, paired with their activations (the head is linear)."""
    lins = [m for m in model.modules() if isinstance(m, nn.Linear)]
    names = [*activations, "linear"]
    assert len(lins) == len(names), "the fused stepper needs one Linear per dense layer and the head"
    return [_Layer(lin, ACTS[a]) for lin, a in zip(lins, names)]


class FusedDenseStepper(Stepper):
    """A dense stack's epochs in numpy with autograd's arithmetic; same interface as SupervisedStepper."""

    engine = ENGINE_FUSED

    def __init__(self, model: nn.Sequential, split: Split, *, activations: list[str], optimizer: str,
                 lr: float, l1: float, l2: float, loss: nn.Module, classes: bool) -> None:
        self.model = model
        self.layers = _linears(model, activations)
        self.optimizer = optimizer
        self.lr, self.l1, self.l2 = lr, l1, l2
        self.steps = 0  # Adam's step count
        self.loss_fn = loss  # for the insides recorder, which probes the torch model
        self.classes = classes
        self.x_train, self.y_train = split.x_train, split.y_train
        self.x_val, self.y_val = split.x_val, split.y_val
        self.dtype = self.layers[0].W.dtype
        n_out = self.layers[-1].W.shape[0]
        # Rows per forward pass when evaluating: each matmul stays under MAX_GEMM (one BLAS thread).
        self.eval_chunk = max(1, MAX_GEMM // max(L.W.shape[-2] * L.W.shape[-1] for L in self.layers))
        self.eye = np.eye(n_out, dtype=self.dtype) if classes else None  # one-hot rows of the labels

    def set_lr(self, lr: float) -> None:
        self.lr = lr

    def set_l2(self, l2: float) -> None:
        self.l2 = l2

    # -- the arithmetic ----------------------------------------------------------------------
    # Every formula reads the last two axes only, so the same code trains one net (W (out, in),
    # activations (B, units)) and an ensemble's K nets at once (W (K, out, in), activations
    # (K, B, units); the input (B, in) is broadcast): numpy's matmul is then one batched call per layer.
    def _forward(self, x: np.ndarray, out: Optional[np.ndarray] = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(z, a)] per layer; the last layer's z is written into `out` when given."""
        zs: list[tuple[np.ndarray, np.ndarray]] = []
        a = x
        last = len(self.layers) - 1
        for i, L in enumerate(self.layers):
            if i == last and out is not None:
                z = np.matmul(a, L.Wt, out=out)  # (..., B, in) @ (..., in, out) -> (..., B, out)
                z += L.b[..., None, :]
            else:
                z = a @ L.Wt + L.b[..., None, :]
            a = L.act.forward(z)
            zs.append((z, a))
        return zs

    def _loss_grad(self, out: np.ndarray, y: np.ndarray) -> np.ndarray:
        """dL/dout of the batch's mean loss: softmax - onehot for cross-entropy, 2 (out - y) for MSE."""
        b = out.shape[-2]
        if self.classes:
            e = np.exp(out - out.max(axis=-1, keepdims=True))
            e /= e.sum(axis=-1, keepdims=True)
            e -= self.eye[y]  # type: ignore[index]
            e *= 1.0 / b
            return e
        return (out - y) * (2.0 / (b * out.shape[-1]))

    def _step(self, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
        """One optimisation step on the batch (x, y); its logits land in `out`."""
        zs = self._forward(x, out)
        g = self._loss_grad(out, y)
        grads: list[tuple[np.ndarray, np.ndarray]] = []
        for i in range(len(self.layers) - 1, -1, -1):
            L = self.layers[i]
            z, a = zs[i]
            gz = L.act.grad(z, a, g)  # (..., B, out)
            a_in = zs[i - 1][1] if i else x
            gW = np.swapaxes(gz, -1, -2) @ a_in  # (..., out, B) @ (..., B, in) -> (..., out, in)
            if self.l2 > 0:
                gW += (2.0 * self.l2) * L.W
            if self.l1 > 0:
                gW += self.l1 * np.sign(L.W)
            gb = self._bias_grad(gz)
            if i:
                g = gz @ L.W  # (..., B, out) @ (..., out, in) -> (..., B, in), with W before its update
            grads.append((gW, gb))
        self.steps += 1
        for L, (gW, gb) in zip(reversed(self.layers), grads):
            self._update(L, gW, gb)

    def _bias_grad(self, gz: np.ndarray) -> np.ndarray:
        """dL/db: the batch's sum of dL/dz, (..., B, out) -> (..., out)."""
        return gz.sum(axis=-2)

    def _update(self, L: _Layer, gW: np.ndarray, gb: np.ndarray) -> None:
        """torch.optim's single-tensor formulas, in place on the parameters' views."""
        lr = self.lr
        if self.optimizer == "sgd":
            L.W -= lr * gW
            L.b -= lr * gb
            return
        if self.optimizer == "momentum":
            if not L.state:  # torch's first step: the buffer is the gradient itself
                L.state["buf"] = [gW.copy(), gb.copy()]
            else:
                for buf, g in zip(L.state["buf"], (gW, gb)):
                    buf *= MOMENTUM
                    buf += g
            L.W -= lr * L.state["buf"][0]
            L.b -= lr * L.state["buf"][1]
            return
        b1, b2 = BETAS
        if not L.state:
            L.state["m"] = [np.zeros_like(L.W), np.zeros_like(L.b)]
            L.state["v"] = [np.zeros_like(L.W), np.zeros_like(L.b)]
        step_size = lr / (1 - b1 ** self.steps)
        bc2_sqrt = math.sqrt(1 - b2 ** self.steps)
        for p, g, m, v in zip((L.W, L.b), (gW, gb), L.state["m"], L.state["v"]):
            m += (1 - b1) * (g - m)  # exp_avg.lerp_(grad, 1 - beta1)
            v *= b2
            v += (1 - b2) * (g * g)
            p -= step_size * (m / (np.sqrt(v) / bc2_sqrt + EPS))

    def _metrics(self, out: np.ndarray, y: np.ndarray) -> tuple[float, Optional[float]]:
        """(mean loss, accuracy or None) of logits `out` against `y`, without the penalty."""
        loss, acc = self._member_metrics(out, y)
        return float(loss), (None if acc is None else float(acc))

    def _member_metrics(self, out: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, Optional[np.ndarray]]:
        """Mean loss and accuracy (or None) of logits (..., N, C) against `y` (N,): shape (...)."""
        n = len(y)
        if self.classes:
            m = out.max(axis=-1, keepdims=True)
            lse = np.log(np.exp(out - m).sum(axis=-1)) + m[..., 0]  # (..., N)
            loss = (lse - out[..., np.arange(n), y]).astype(np.float64).sum(axis=-1) / n
            return loss, (out.argmax(axis=-1) == y).sum(axis=-1) / n
        d = (out - y).astype(np.float64)
        return (d * d).sum(axis=(-2, -1)) / (n * out.shape[-1]), None

    # -- the Stepper interface -------------------------------------------------------------------
    def train_epoch(self, order: torch.Tensor, batch_size: int) -> tuple[dict[str, Optional[float]], float]:
        """One pass in `order`; the epoch's logits are kept and scored once, at its end."""
        idx = order.numpy()
        xs, ys = self.x_train.numpy()[idx], self.y_train.numpy()[idx]
        n = len(xs)
        outs = np.empty((n, self.layers[-1].W.shape[0]), dtype=self.dtype)
        t0 = time.perf_counter()
        with np.errstate(all="ignore"):  # a diverging run's overflow is the trainer's to report
            for i in range(0, n, batch_size):
                self._step(xs[i:i + batch_size], ys[i:i + batch_size], outs[i:i + batch_size])
            step_time = (time.perf_counter() - t0) / math.ceil(n / batch_size)
            loss, acc = self._metrics(outs, ys)
        m: dict[str, Optional[float]] = {"train_loss": loss}
        if self.classes:
            m["train_acc"] = acc
        return m, step_time

    def evaluate_on(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, Optional[float]]:
        """(mean loss, accuracy or None), as SupervisedStepper.evaluate_on."""
        xn, yn = x.detach().numpy(), y.detach().numpy()
        with np.errstate(all="ignore"):
            step = self.eval_chunk
            outs = np.concatenate([self._forward(xn[i:i + step])[-1][1] for i in range(0, len(xn), step)])
            return self._metrics(outs, yn)

    def evaluate(self) -> dict[str, Optional[float]]:
        val_loss, val_acc = self.evaluate_on(self.x_val, self.y_val)
        out: dict[str, Optional[float]] = {"val_loss": val_loss}
        if self.classes:
            out["val_acc"] = val_acc
        return out

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def load_state_dict(self, sd: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(sd)  # copies into the same storage, which the views share

"""The insides of a network: per-layer statistics on a fixed probe batch, kept over the run.

Taken at the views' cadence (the trainer's snapshot clock), each record holds, per layer with a
weight matrix (dense, conv2d, recurrent, and the head):

  grad_norm     the L2 norm of the gradient of the probe loss w.r.t. the layer's weight matrices
  weight_norm   the L2 norm of those weights
  update_ratio  lr * grad_norm / weight_norm: the size of an SGD step relative to the weights
  act_mean, act_std   of the layer's output (after its activation) on the probe batch
  dead          ReLU-family layers: the share of units never positive on the probe batch
  saturated     sigmoid (< 0.01 or > 0.99) and tanh (|y| > 0.97) layers: the share of outputs saturated

and histograms of the weights, the gradients and the outputs. The probe batch is a fixed sample of
the training split, run in eval mode (no dropout; batchnorm uses its running statistics), so that
records differ only because the weights changed. The probe never touches the optimizer or an RNG.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch
from torch import nn


PROBE_ROWS = 256  # rows of the training split in the probe batch
HIST_BINS = 24
MAX_RECORDS = 128  # the series keep at most this many records; past it every other one is dropped
MAX_HIST_RECORDS = 32  # histograms are bigger: fewer of them are kept, thinned the same way
DEAD_KINDS = frozenset({"relu", "leaky_relu", "elu"})  # "never positive" means dead for these
SATURATION = {"sigmoid": lambda y: (y < 0.01) | (y > 0.99), "tanh": lambda y: y.abs() > 0.97}
SERIES = ("grad_norm", "weight_norm", "update_ratio", "act_mean", "act_std", "dead", "saturated")


@dataclass
class LayerInfo:
    """One row of the insides: which child of which stack's Sequential, its name and activation."""

    index: int  # child of the stack's Sequential; the layer, or the head when it is the last
    name: str
    activation: Optional[str]
    stack: str = "layers"  # the family's stack name (engine/family.py StackDef.name)
    layer: Optional[int] = None  # the index in the stack's layer list (the builder's card); None for the head


def stack_infos(layers: list[Any], seq: nn.Sequential, stack: str = "layers") -> list[LayerInfo]:
    """The children of one stack's Sequential that own a weight matrix, named as the builder names
    them. The children are the stack's layers, then its head; a family may put children before the
    layers (a GAN's minibatch-std feature), and those are skipped by the count."""
    children = list(seq.children())
    offset = len(children) - len(layers) - 1  # children in front of the layers (0 when none)
    out = []
    for i, block in enumerate(children):
        if not any(p.dim() >= 2 for p in block.parameters()):
            continue
        j = i - offset
        if 0 <= j < len(layers):
            out.append(LayerInfo(i, f"{layers[j].type} {j + 1}", getattr(layers[j], "activation", None), stack, j))
        else:
            out.append(LayerInfo(i, "output", None, stack))
    return out


def layer_infos(spec: Any, model: nn.Sequential) -> list[LayerInfo]:
    """The rows of a one-stack model (`spec.model.layers`)."""
    return stack_infos(list(spec.model.layers), model)


def _hist(t: torch.Tensor) -> dict[str, Any]:
    """Counts of `t`'s values in HIST_BINS equal bins over [lo, hi]."""
    t = t.detach().reshape(-1).float()
    lo, hi = torch.stack(torch.aminmax(t)).tolist()  # one sync for both ends
    if not (math.isfinite(lo) and math.isfinite(hi)):
        t = t[torch.isfinite(t)]  # rare: only a run about to diverge has inf weights
        if t.numel() == 0:
            return {"lo": 0.0, "hi": 0.0, "counts": [0] * HIST_BINS}
        lo, hi = torch.stack(torch.aminmax(t)).tolist()
    if hi <= lo:
        hi = lo + 1e-6
    counts = torch.histc(t, bins=HIST_BINS, min=lo, max=hi)
    return {"lo": round(lo, 5), "hi": round(hi, 5), "counts": [int(c) for c in counts.tolist()]}


def _flat(ts: list[torch.Tensor]) -> torch.Tensor:
    return ts[0].reshape(-1) if len(ts) == 1 else torch.cat([x.reshape(-1) for x in ts])


def _unit_dim(y: torch.Tensor) -> int:
    # (B, U) and (B, C, H, W): units along dim 1; (B, T, H) sequences: along the last dim.
    return 2 if y.dim() == 3 else 1


def _dead(y: torch.Tensor) -> torch.Tensor:
    d = _unit_dim(y)
    per_unit = y.transpose(0, d).reshape(y.shape[d], -1)  # (U, everything else)
    return (per_unit.amax(dim=1) <= 0).float().mean()


def dead_share(y: torch.Tensor) -> float:
    """The share of units whose output is never positive anywhere in the batch."""
    return float(_dead(y))


def _thin(rows: list, cap: int) -> None:
    """Past `cap`, keep every other row (and always the newest), halving the resolution in time."""
    if len(rows) > cap:
        last = rows[-1]
        rows[:] = rows[::2]
        if rows[-1] is not last:
            rows.append(last)


Probe = Callable[[], dict[str, torch.Tensor]]  # forward on the fixed probe batch: each stack's loss


class Insides:
    """Takes records on the probe batch and keeps the run's series and histograms.

    `stacks` are the family's Sequentials by stack name; `probe()` runs them on the probe batch and
    returns, per stack name, the loss whose gradient that stack's weights are measured by (one loss
    for every stack where the family has one objective, an autoencoder's; a GAN's G and D each have
    their own). A family with named stacks gets a group of rows per stack with no other change."""

    def __init__(self, stacks: dict[str, nn.Sequential], infos: list[LayerInfo], probe: Probe,
                 root: nn.Module) -> None:
        self.stacks = stacks
        self.infos = infos
        self.probe = probe
        self.model = root  # every stack together: its train/eval mode and its parameters
        self.records: list[dict[str, Any]] = []
        self.hists: list[dict[str, Any]] = []

    @classmethod
    def of_loss(cls, model: nn.Sequential, infos: list[LayerInfo], x_probe: torch.Tensor,
                y_probe: torch.Tensor, loss_fn: nn.Module) -> "Insides":
        """The insides of a one-stack model trained on loss_fn(model(x), y)."""
        return cls({"layers": model}, infos, lambda: {"layers": loss_fn(model(x_probe), y_probe)}, model)

    @classmethod
    def of_stacks(cls, spec: Any, model: nn.Module, stacks: Any, probe: Probe) -> "Insides":
        """The insides of a multi-stack family: `stacks` are its StackDefs, each stack's Sequential is
        the model's attribute of the stack's name (model.encoder, model.generator), and `probe()`
        returns each stack's loss by name (the same tensor for every stack of a one-objective family)."""
        seqs = {sd.name: getattr(model, sd.name) for sd in stacks}
        infos = [info for sd in stacks for info in stack_infos(list(sd.layers(spec.model)), seqs[sd.name], sd.name)]
        return cls(seqs, infos, probe, model)

    @staticmethod
    def probe_rows(n: int) -> torch.Tensor:
        """Fixed row indices of the training split: a private generator, so no RNG moves."""
        g = torch.Generator().manual_seed(0)
        return torch.randperm(n, generator=g)[:PROBE_ROWS]

    def _weights(self, info: LayerInfo) -> list[torch.nn.Parameter]:
        return [p for p in self.stacks[info.stack][info.index].parameters() if p.dim() >= 2]

    def take(self, epoch: int, lr: float, l1: float, l2: float) -> dict[str, Any]:
        """One record at `epoch`: forward on the probe batch in eval mode, and each stack's gradients
        of its loss (torch.autograd.grad: the training's .grad fields are never touched)."""
        model = self.model
        was_training = model.training
        model.eval()
        outs: dict[tuple[str, int], torch.Tensor] = {}
        hooks = [self.stacks[info.stack][info.index].register_forward_hook(
            lambda _m, _inp, out, key=(info.stack, info.index): outs.__setitem__(key, out.detach()))
            for info in self.infos]
        try:
            losses = self.probe()
            grads: dict[tuple[str, int], list[torch.Tensor]] = {}
            for name in dict.fromkeys(info.stack for info in self.infos):
                mine = [info for info in self.infos if info.stack == name]
                ws = [w for info in mine for w in self._weights(info)]
                gs = torch.autograd.grad(losses[name], ws, retain_graph=True, allow_unused=True)
                k = 0
                for info in mine:
                    n = len(self._weights(info))
                    grads[(info.stack, info.index)] = [torch.zeros_like(w) if g is None else g
                                                       for w, g in zip(ws[k:k + n], gs[k:k + n])]
                    k += n
            first = next(iter(losses.values()))
            rec = self._record(epoch, lr, float(first.detach()), outs, grads)
            rec["penalty"] = self._penalty(l1, l2)
            rec["l1"], rec["l2"] = l1, l2
        finally:
            for h in hooks:
                h.remove()
            model.train(was_training)
        self.records.append(rec)
        _thin(self.records, MAX_RECORDS)
        return rec

    @torch.no_grad()
    def _record(self, epoch: int, lr: float, loss: float, outs: dict[tuple[str, int], torch.Tensor],
                grads: dict[tuple[str, int], list[torch.Tensor]]) -> dict[str, Any]:
        rec: dict[str, Any] = {"epoch": epoch, "lr": lr, "loss": loss, "layers": []}
        hist: dict[str, Any] = {"epoch": epoch, "layers": []}
        for info in self.infos:
            key = (info.stack, info.index)
            ws = self._weights(info)
            w_all, g_all = _flat(ws), _flat(grads[key])
            y = outs[key]
            y = y[0] if isinstance(y, tuple) else y
            sat = SATURATION.get(info.activation or "")
            dead = info.activation in DEAD_KINDS
            # Every scalar of the layer in one tensor, read back with one sync.
            parts = [g_all.norm(), w_all.norm(), y.mean(), y.std() if y.numel() > 1 else y.new_zeros(()),
                     _dead(y) if dead else y.new_zeros(()), sat(y).float().mean() if sat else y.new_zeros(())]
            g, w, mean, std, dead_v, sat_v = torch.stack([p.float() for p in parts]).tolist()
            rec["layers"].append({
                "grad_norm": g, "weight_norm": w, "update_ratio": lr * g / w if w > 0 else None,
                "act_mean": mean, "act_std": std, "dead": dead_v if dead else None,
                "saturated": sat_v if sat else None,
            })
            hist["layers"].append({"weights": _hist(w_all), "grads": _hist(g_all), "activations": _hist(y)})
        self.hists.append(hist)
        _thin(self.hists, MAX_HIST_RECORDS)
        return rec

    @torch.no_grad()
    def _penalty(self, l1: float, l2: float) -> float:
        ws = [p for p in self.model.parameters() if p.dim() >= 2]
        pen = 0.0
        if l2 > 0:
            pen += l2 * float(sum((p * p).sum() for p in ws))
        if l1 > 0:
            pen += l1 * float(sum(p.abs().sum() for p in ws))
        return pen

    def snapshot(self, epoch: int) -> dict[str, Any]:
        """The `insides` view: columnar series and histograms of every record kept so far, and the
        flags of engine/causes.py's layer_flags on each layer."""
        from .causes import layer_flags  # causes reads this view; the import is one way at load time

        recs = self.records
        layers = []
        for j, info in enumerate(self.infos):
            series = {k: [_round(r["layers"][j][k]) for r in recs] for k in SERIES}
            layers.append({"index": info.index, "name": info.name, "activation": info.activation,
                           "stack": info.stack, "layer": info.layer, **series,
                           "hist": {k: [h["layers"][j][k] for h in self.hists]
                                    for k in ("weights", "grads", "activations")}})
        view = {"epoch": epoch, "epochs": [r["epoch"] for r in recs], "lr": [r["lr"] for r in recs],
                "l2": [r["l2"] for r in recs], "loss": [_round(r["loss"]) for r in recs],
                "penalty": [_round(r["penalty"]) for r in recs],
                "hist_epochs": [h["epoch"] for h in self.hists], "layers": layers}
        for layer, flags in zip(layers, layer_flags(view)):
            layer["flags"] = flags
        return view


def _round(v: Optional[float]) -> Optional[float]:
    if v is None or v != v or v in (float("inf"), float("-inf")):
        return None  # NaN/inf never travel (JSON has no such numbers)
    return float(f"{v:.4g}")


def build_insides(spec: Any, model: nn.Sequential, x_train: torch.Tensor, y_train: torch.Tensor,
                  loss_fn: nn.Module) -> Insides:
    """The insides of `model`, probed on a fixed sample of the training split."""
    rows = Insides.probe_rows(len(x_train)).to(x_train.device)
    return Insides.of_loss(model, layer_infos(spec, model), x_train[rows], y_train[rows], loss_fn)


class InsidesCadence:
    """When the insides are recorded: at most every MIN_INTERVAL_S, and within BUDGET of the wall
    time. `view` is the latest snapshot (the diagnosis reads it). The views refresh faster when they
    are cheap (engine/views.py); sparklines of a few points a second need no more than this."""

    MIN_INTERVAL_S = 0.2
    BUDGET = 0.015  # share of wall time

    def __init__(self, insides: Optional[Insides], emit: Any) -> None:
        self.insides, self.emit = insides, emit
        self.view: Optional[dict[str, Any]] = None
        self._last = self._cost = 0.0

    def _take(self, epoch: int, at: int, lr: float, l1: float, l2: float) -> None:
        t = time.perf_counter()
        if at == epoch:  # restored best weights are not a new record of the run's insides
            self.insides.take(epoch, lr, l1, l2)  # type: ignore[union-attr]
        self.view = self.insides.snapshot(at)  # type: ignore[union-attr]
        self.emit(at, self.view)
        self._last = time.perf_counter()
        self._cost = self._last - t

    def due(self, epoch: int, lr: float, l1: float, l2: float) -> None:
        """Record now if the interval has passed."""
        if self.insides is None:
            return
        wait = max(self.MIN_INTERVAL_S, self._cost / self.BUDGET)
        if time.perf_counter() - self._last >= wait:
            self._take(epoch, epoch, lr, l1, l2)

    def diverged(self, epoch: int, lr: float, l1: float, l2: float) -> None:
        """The run diverged at `epoch`: a last record if the weights are still finite (a loss far above
        the constant guess, not yet NaN), so that the gradient norms at the blow-up are measured."""
        if self.insides is None or not all(bool(torch.isfinite(p).all()) for p in self.insides.model.parameters()):
            return
        self._take(epoch, epoch, lr, l1, l2)

    def final(self, epoch: int, at: int, lr: float, l1: float, l2: float) -> None:
        """The end of a run: the insides of the weights kept (epoch `at`)."""
        if self.insides is not None:
            self._take(epoch, at, lr, l1, l2)

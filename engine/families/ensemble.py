"""K-seed ensembles (training.seeds, issue 16): K copies of one net that differ only in the init seed.

Member k is built right after `torch.manual_seed(seed + k)` (the trainer builds them); every member
sees the same batch order (the generator of `seed`) and, where there is dropout, the same masks (a
generator of `seed + 1` each), so the seed-to-seed spread is the initialisation's alone and member 0
is exactly the single run of `seed`. The history's metric columns are the members' mean and each
`<metric>_sd` their sample standard deviation (engine/family.py's `columns_for`).

Two steppers train them: the fused dense one in batched matmuls (engine/families/fused_dense.py,
weights stacked (K, out, in)), and, for every other stack, `EnsembleLoopStepper`, which steps the K
members' own steppers in turn on the same batches (exact by construction; not batched). Both save
member 0's weights: the weights file, the export script and the views are member 0's, the single
run of `seed`.
"""

from __future__ import annotations

import math
from typing import Iterable, Optional, Sequence

import torch

from ..family import Stepper, spread_column

MEMBER_KEY = "member{k}/{key}"  # a snapshot's key for member k's weight `key`


def spread(rows: Sequence[dict[str, Optional[float]]], names: Iterable[str]) -> dict[str, Optional[float]]:
    """The members' metrics as one row: each key's mean over the members, and for `names` also
    `<name>_sd`, their sample standard deviation (ddof 1). None stays None; one NaN makes both NaN,
    which the trainer reports as divergence."""
    out: dict[str, Optional[float]] = {}
    k = len(rows)
    for key in rows[0]:
        vals = [r.get(key) for r in rows]
        out[key] = None if any(v is None for v in vals) else math.fsum(vals) / k  # type: ignore[arg-type]
    for name in names:
        if name not in rows[0]:
            continue
        mean = out[name]
        if mean is None or k < 2:
            out[spread_column(name)] = None
        elif not math.isfinite(mean):
            out[spread_column(name)] = math.nan
        else:
            squares = math.fsum((r[name] - mean) ** 2 for r in rows)  # type: ignore[operator]
            out[spread_column(name)] = math.sqrt(squares / (k - 1))
    return out


class MemberStates:
    """snapshot/restore/saved for a stepper that trains several members; `member_states()` gives
    each member's state_dict (tensors sharing the weights' storage), member 0 first."""

    def member_states(self) -> list[dict[str, torch.Tensor]]:
        raise NotImplementedError

    def load_member(self, k: int, sd: dict[str, torch.Tensor]) -> None:
        raise NotImplementedError

    def snapshot(self) -> dict[str, torch.Tensor]:
        return {MEMBER_KEY.format(k=k, key=key): v
                for k, sd in enumerate(self.member_states()) for key, v in sd.items()}

    def restore(self, snap: dict[str, torch.Tensor]) -> None:
        for k, sd in enumerate(self.member_states()):
            self.load_member(k, {key: snap[MEMBER_KEY.format(k=k, key=key)] for key in sd})

    def saved(self, snap: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {key: snap[MEMBER_KEY.format(k=0, key=key)] for key in self.member_states()[0]}


class EnsembleLoopStepper(MemberStates, Stepper):
    """K members' own steppers, stepped in turn on the same order: for the stacks the batched fused
    path does not take (dropout, batchnorm, conv, recurrent layers, other optimizers, a GPU)."""

    def __init__(self, steppers: list[Stepper], spread_names: Sequence[str]) -> None:
        self.steppers = steppers
        self.spread_names = tuple(spread_names)
        first = steppers[0]
        self.engine = getattr(first, "engine", "autograd")
        # What the insides recorder and the trainer read of a stepper: member 0's.
        for name in ("model", "x_train", "y_train", "x_val", "y_val", "loss_fn", "classes"):
            if hasattr(first, name):
                setattr(self, name, getattr(first, name))

    @property
    def l1(self) -> float:
        return getattr(self.steppers[0], "l1", 0.0)

    @property
    def l2(self) -> float:
        return getattr(self.steppers[0], "l2", 0.0)

    def set_lr(self, lr: float) -> None:
        for s in self.steppers:
            s.set_lr(lr)

    def set_l2(self, l2: float) -> None:
        for s in self.steppers:
            s.set_l2(l2)

    def train_epoch(self, order: torch.Tensor, batch_size: int) -> tuple[dict[str, Optional[float]], float]:
        """Each member one pass in the same `order`; the step time is the K members' together."""
        rows, step_time = [], 0.0
        for s in self.steppers:
            m, t = s.train_epoch(order, batch_size)
            rows.append(m)
            step_time += t
        return spread(rows, self.spread_names), step_time

    def evaluate(self) -> dict[str, Optional[float]]:
        return spread([s.evaluate() for s in self.steppers], self.spread_names)

    def evaluate_on(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, Optional[float]]:
        """The members' mean (loss, accuracy or None) on (x, y)."""
        pairs = [s.evaluate_on(x, y) for s in self.steppers]  # type: ignore[attr-defined]
        loss = math.fsum(p[0] for p in pairs) / len(pairs)
        accs = [p[1] for p in pairs]
        return loss, (None if any(a is None for a in accs) else math.fsum(accs) / len(accs))  # type: ignore[arg-type]

    def member_states(self) -> list[dict[str, torch.Tensor]]:
        return [s.state_dict() for s in self.steppers]

    def load_member(self, k: int, sd: dict[str, torch.Tensor]) -> None:
        self.steppers[k].load_state_dict(sd)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.steppers[0].state_dict()

    def load_state_dict(self, sd: dict[str, torch.Tensor]) -> None:
        """Saved weights are member 0's (a pick on an ended run rebuilds the views from them)."""
        self.steppers[0].load_state_dict(sd)

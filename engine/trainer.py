"""The trainer: synchronous, one epoch per `step()`, steered by a Control and reporting through `emit`.

Reproducibility protocol (the oracle test replays it with plain PyTorch):
  1. torch.manual_seed(training.seed), then the model is built, layer by layer;
  2. a CPU torch.Generator seeded with training.seed draws each epoch's
     torch.randperm(n_train) for the batch order;
  3. dropout masks come from a second generator seeded with training.seed + 1.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

import torch

from .control import Control
from .datasets import Split, build_split
from .device import resolve_device
from .diagnosis import diagnose
from .events import (HISTORY_COLUMNS, DiagnosisEvent, EndEvent, EpochEvent, EpochMetrics, Event,
                     SnapshotEvent)
from .layers import SeededDropout
from .model import build_model, penalized
from .optimizers import OPTIMIZERS
from .shapes import Summary, infer
from .snapshots import snapshot_kind, take_snapshot, weight_summary
from .spec import ExperimentSpec, Limits
from .tasks import TASKS

# Module construction draws from torch's global RNG; concurrent runs in one process take turns.
_INIT_LOCK = threading.Lock()
EVAL_CHUNK = 8192  # rows per forward pass when evaluating
DIAGNOSIS_INTERVAL_S = 0.25
DIAGNOSIS_REFRESH_S = 1.0
SNAPSHOT_MIN_INTERVAL_S = 0.2  # views refresh at most 5 times a second
SNAPSHOT_BUDGET = 0.03  # a snapshot may cost at most this share of wall time
EXPLODE_FACTOR = 1e3  # a train loss this many times the constant predictor's is diverged

DIVERGED_ADVICE = ("The loss became NaN or exploded. Lower the learning rate (try a tenth), "
                   "switch to Adam, or add batchnorm; check that l1/l2 are not huge.")


def lr_factor(spec: ExperimentSpec, epoch: int) -> float:
    """The schedule's multiplier for a 0-based epoch."""
    sched = spec.training.lr_schedule
    if sched.type == "step":
        return sched.gamma ** (epoch // sched.step_size)
    if sched.type == "exponential":
        return sched.gamma ** epoch
    if sched.type == "cosine":
        total = max(1, spec.training.epochs - 1)
        base = spec.training.lr
        floor = min(sched.min_lr / base, 1.0) if base > 0 else 0.0
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(epoch, total) / total))
    return 1.0


def _unnested(model: torch.nn.Sequential) -> torch.nn.Sequential:
    """The model's own modules with each layer's (core, activation) block unpacked, for the hot loop.

    A block is an nn.Sequential, and each one costs an extra module call per forward: 3-4% of a
    small MLP's step time (bench/engine_bench.py). The modules, so the parameters and the train/eval
    mode, are shared with `model`, which keeps one child per layer for everything else.
    """
    flat: list[torch.nn.Module] = []
    for child in model:
        flat.extend(child if type(child) is torch.nn.Sequential else [child])
    return torch.nn.Sequential(*flat)


@dataclass
class RunResult:
    status: str  # finished | stopped | diverged
    epochs: int
    best_epoch: Optional[int]
    stopped_early: bool


class Trainer:
    """Trains one spec. Build it, then call `step()` for one epoch or `run()` for the whole run."""

    def __init__(self, spec: ExperimentSpec, limits: Limits | None = None,
                 split: Split | None = None) -> None:
        self.spec = spec
        self.summary: Summary = infer(spec, limits)
        self.task = TASKS.get(self.summary.task)
        self.device = resolve_device(spec.training.device)
        seed = spec.training.seed
        self.split = split or build_split(spec.data, self.summary.task)
        with _INIT_LOCK:
            torch.manual_seed(seed)
            self.model = build_model(spec, self.summary).to(self.device)
        self._forward = _unnested(self.model)
        self.shuffle = torch.Generator().manual_seed(seed)
        dropout_gen = torch.Generator(device=self.device).manual_seed(seed + 1)
        for m in self.model.modules():
            if isinstance(m, SeededDropout):
                m.generator = dropout_gen
        t = spec.training
        self.base_lr = t.lr
        self.l1, self.l2 = t.l1, t.l2
        self.optimizer = OPTIMIZERS.get(t.optimizer)(self.model.parameters(), t.lr)
        self._params = [p for group in self.optimizer.param_groups for p in group["params"]]
        self.loss_fn = self.task.make_loss()
        self._penalized = penalized(self.model)
        self.x_train = self.split.x_train.to(self.device)
        self.y_train = self.split.y_train.to(self.device)
        self.x_val = self.split.x_val.to(self.device)
        self.y_val = self.split.y_val.to(self.device)
        self.baseline = self.task.baseline_loss(self.split.y_train)
        self.history: dict[str, list] = {c: [] for c in HISTORY_COLUMNS}
        self.epoch = 0
        self.best_val = math.inf
        self.best_epoch: Optional[int] = None
        self._best_state: Optional[dict] = None  # weights at best_epoch
        self._es_state: Optional[dict] = None  # weights at early stopping's best (min_delta applies)
        self._es_best = math.inf
        self._es_wait = 0
        self._es_epoch: Optional[int] = None  # the epoch of _es_state
        self.weights_epoch = 0  # the epoch whose weights the model holds now
        self.stopped_early = False
        self.diverged = False

    # -- one epoch -----------------------------------------------------------------
    def _penalty(self) -> torch.Tensor | float:
        pen: torch.Tensor | float = 0.0
        if self.l2 > 0:
            pen = pen + self.l2 * sum((p * p).sum() for p in self._penalized)
        if self.l1 > 0:
            pen = pen + self.l1 * sum(p.abs().sum() for p in self._penalized)
        return pen

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, Optional[float]]:
        """(mean loss, accuracy or None) in eval mode, without the penalty."""
        self.model.eval()
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        for i in range(0, len(x), EVAL_CHUNK):
            xb, yb = x[i:i + EVAL_CHUNK], y[i:i + EVAL_CHUNK]
            out = self._forward(xb)
            loss_sum += self.loss_fn(out, yb) * len(xb)
            if self.task.has_accuracy:
                correct += self.task.correct(out, yb)
        self.model.train()
        acc = correct.item() / len(x) if self.task.has_accuracy else None
        return loss_sum.item() / len(x), acc

    def step(self) -> EpochMetrics:
        """Train one epoch, evaluate on the validation split, and record the metrics.

        The batch loop does the textbook loop's arithmetic with fewer dispatches, which at our sizes
        (a few hundred microseconds a step) is most of the cost (bench/engine_bench.py):
          - the epoch's order is applied once, so a batch is a view, not a gather;
          - gradients are dropped by setting them to None, which is what
            `optimizer.zero_grad(set_to_none=True)` does, without its profiler hooks;
          - the loss is summed with one fused op, and predictions are written into a buffer that
            is compared with the labels once an epoch; no step syncs with the device.
        """
        lr = self.base_lr * lr_factor(self.spec, self.epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        n = len(self.x_train)
        bs = self.spec.training.batch_size
        order = torch.randperm(n, generator=self.shuffle).to(self.device)
        xs, ys = self.x_train[order], self.y_train[order]
        self.model.train()
        forward, loss_fn, optimizer, params = self._forward, self.loss_fn, self.optimizer, self._params
        penalty = self.l1 > 0 or self.l2 > 0
        loss_sum = torch.zeros((), device=self.device)
        preds = torch.empty(n, dtype=torch.long, device=self.device) if self.task.has_accuracy else None
        t0 = time.perf_counter()
        for i in range(0, n, bs):
            b = min(bs, n - i)
            xb, yb = xs[i:i + b], ys[i:i + b]
            out = forward(xb)
            loss = loss_fn(out, yb)
            total = loss + self._penalty() if penalty else loss
            for p in params:
                p.grad = None
            total.backward()
            optimizer.step()
            loss_sum.add_(loss.detach(), alpha=b)
            if preds is not None:
                self.task.predict(out, out=preds[i:i + b])
        train_loss = loss_sum.item() / n
        step_time = (time.perf_counter() - t0) / math.ceil(n / bs)
        train_acc = (preds == ys).sum().item() / n if preds is not None else None
        val_loss, val_acc = self.evaluate(self.x_val, self.y_val)
        self.epoch += 1
        self.weights_epoch = self.epoch
        m = EpochMetrics(self.epoch, train_loss, val_loss, train_acc, val_acc, lr, step_time)
        self._record(m)
        return m

    def _record(self, m: EpochMetrics) -> None:
        finite = math.isfinite(m.train_loss) and math.isfinite(m.val_loss)
        exploded = finite and self.epoch >= 3 and m.train_loss > EXPLODE_FACTOR * max(self.baseline, 1e-3)
        if not finite or exploded:
            self.diverged = True
            # NaN and inf never reach the history: a diverged epoch is recorded as missing.
            m.train_loss = m.train_loss if math.isfinite(m.train_loss) else None  # type: ignore[assignment]
            m.val_loss = m.val_loss if math.isfinite(m.val_loss) else None  # type: ignore[assignment]
        for c in HISTORY_COLUMNS:
            self.history[c].append(getattr(m, c))
        if self.diverged:
            return
        if m.val_loss < self.best_val:
            self.best_val, self.best_epoch = m.val_loss, m.epoch
            self._best_state = self._copy_weights()
        es = self.spec.training.early_stopping
        if es is None:
            return
        if m.val_loss < self._es_best - es.min_delta:
            self._es_best = m.val_loss
            self._es_wait = 0
            self._es_epoch = m.epoch
            if es.restore_best:  # the same weights as the best epoch's when this epoch is also that
                self._es_state = self._best_state if self.best_epoch == m.epoch else self._copy_weights()
        else:
            self._es_wait += 1
            if self._es_wait >= es.patience:
                self.stopped_early = True

    def apply_changes(self, lr: Optional[float], l2: Optional[float]) -> None:
        """Take a new base lr and/or l2 from the next epoch on."""
        if lr is not None:
            self.base_lr = lr
        if l2 is not None:
            self.l2 = l2

    def _copy_weights(self) -> dict:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def best_state(self) -> Optional[dict]:
        """Weights of the epoch with the lowest val loss (None before the first epoch)."""
        return self._best_state

    def restore_best(self) -> bool:
        """Keras' restore_best_weights: only once early stopping has triggered. True if it restored."""
        if self.stopped_early and self._es_state is not None:
            self.model.load_state_dict(self._es_state)
            self.weights_epoch = self._es_epoch or self.epoch
            return True
        return False

    def final_metrics(self, restored: bool) -> tuple[Optional[float], Optional[float]]:
        """(val loss, val accuracy) of the weights the run ends with, which are the ones saved and exported."""
        if not self.epoch:
            return None, None
        if restored:
            return self.evaluate(self.x_val, self.y_val)
        return self.history["val_loss"][-1], self.history["val_acc"][-1]

    # -- the whole run ---------------------------------------------------------------
    def run(self, control: Control | None = None, emit: Callable[[Event], None] = lambda e: None,
            epochs: int | None = None) -> RunResult:
        """Train until the last epoch, a stop, early stopping or divergence. Emits an EndEvent last."""
        torch.set_num_threads(1)
        control = control or Control()
        total = epochs or self.spec.training.epochs
        kind = snapshot_kind(self.summary.input_shape, self.task.has_accuracy)
        x_all = torch.cat([self.split.x_train, self.split.x_val]) if kind else None
        last_diag = last_snap = 0.0
        snap_cost = 0.0
        verdict: Optional[str] = None
        status = "finished"

        last_sent = 0.0

        def diagnose_now(final: bool = False) -> None:
            nonlocal verdict, last_sent
            d = diagnose(self.history, self.spec, self.baseline,
                         status="diverged" if self.diverged else None, best_epoch=self.best_epoch)
            now = time.perf_counter()
            # A new verdict goes out at once; the same verdict with fresher numbers now and then.
            if final or d.verdict != verdict or now - last_sent >= DIAGNOSIS_REFRESH_S:
                verdict, last_sent = d.verdict, now
                emit(DiagnosisEvent(d))

        def snapshot_now() -> None:
            nonlocal last_snap, snap_cost
            t = time.perf_counter()
            at = self.weights_epoch  # after restore_best, the best epoch's weights are the ones shown
            if kind:
                emit(SnapshotEvent(kind, at, take_snapshot(self.model, kind, x_all, at)))
            emit(SnapshotEvent("weights", at, weight_summary(self.model, at)))
            snap_cost = time.perf_counter() - t
            last_snap = time.perf_counter()

        while self.epoch < total:
            if not control.wait_turn():
                status = "stopped"
                break
            self.apply_changes(*control.take_changes())
            emit(EpochEvent(self.step()))
            if self.diverged:
                status = "diverged"
                break
            now = time.perf_counter()
            if now - last_diag >= DIAGNOSIS_INTERVAL_S:
                diagnose_now()
                last_diag = time.perf_counter()
            if now - last_snap >= max(SNAPSHOT_MIN_INTERVAL_S, snap_cost / SNAPSHOT_BUDGET):
                snapshot_now()
            if self.stopped_early:
                break
        restored = self.restore_best()
        if not self.diverged and self.epoch > 0:
            snapshot_now()
        diagnose_now(final=True)
        val_loss, val_acc = self.final_metrics(restored)
        emit(EndEvent(status, self.epoch, self.best_epoch, val_loss, verdict, self.stopped_early,
                      DIVERGED_ADVICE if status == "diverged" else None, val_acc=val_acc,
                      weights_epoch=self.weights_epoch if self.epoch else None))
        return RunResult(status, self.epoch, self.best_epoch, self.stopped_early)

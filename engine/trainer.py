"""The trainer: synchronous, one epoch per `step()`, steered by a Control and reporting through `emit`.

It keeps what every family shares: seeding, Control, the lr schedule, divergence, the best epoch
and early stopping on the family's monitored metric, the view and diagnosis cadence, and events.
The family (engine/family.py) builds the modules and its Stepper trains them.

Reproducibility protocol (the oracle test replays it with plain PyTorch):
  1. torch.manual_seed(training.seed), then the model is built, layer by layer;
  2. a CPU torch.Generator seeded with training.seed draws each epoch's
     torch.randperm(n_train) for the batch order;
  3. dropout masks come from a second generator seeded with training.seed + 1.
An ensemble (training.seeds = K > 1) builds member k after torch.manual_seed(training.seed + k); the
members share the batch order and each has its own dropout generator seeded with training.seed + 1,
so they differ only in their initialisation and member 0 is the single run (engine/families/ensemble.py).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

import torch

from .control import Control
from .data import Split, build_split, data_info
from .device import resolve_device
from .events import DiagnosisEvent, EndEvent, EpochEvent, EpochMetrics, Event, SnapshotEvent
from .family import FAMILIES
from .insides import InsidesCadence
from .layers import SeededDropout
from .shapes import Summary, infer
from .spec import ExperimentSpec, Limits
from .viewkinds import VIEWS  # noqa: F401  (registers the built-in views)
from .views import ViewCadence, ViewData, applying

# Module construction draws from torch's global RNG; concurrent runs in one process take turns.
_INIT_LOCK = threading.Lock()
DIAGNOSIS_INTERVAL_S = 0.25
DIAGNOSIS_REFRESH_S = 1.0
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
        self.family = FAMILIES.get(self.summary.task)
        self.task = self.family  # the old name
        self.device = resolve_device(spec.training.device)
        seed = spec.training.seed
        self.split = split or build_split(spec.data, self.summary.task)
        with _INIT_LOCK:
            torch.manual_seed(seed)
            self.model = self.family.build(spec, self.summary).to(self.device)
            self.members = [self.model]  # an ensemble's members, member 0 (the model shown and saved) first
            if spec.training.seeds > 1:
                after = torch.get_rng_state()  # the global RNG goes on as in a single run
                for k in range(1, spec.training.seeds):
                    torch.manual_seed(seed + k)
                    self.members.append(self.family.build(spec, self.summary).to(self.device))
                torch.set_rng_state(after)
        self.shuffle = torch.Generator().manual_seed(seed)
        for member in self.members:
            dropout_gen = torch.Generator(device=self.device).manual_seed(seed + 1)
            for m in member.modules():
                if isinstance(m, SeededDropout):
                    m.generator = dropout_gen
        self.base_lr = spec.training.lr
        self.stepper = (self.family.stepper(spec, self.model, self.split, self.device) if len(self.members) == 1
                        else self.family.ensemble_stepper(spec, self.members, self.split, self.device))
        self.engine = getattr(self.stepper, "engine", "autograd")  # the compute path: fused-dense or autograd
        self.baseline = self.family.baseline(self.split)
        self.columns = self.family.columns_for(spec)  # an ensemble's spread columns too
        self.monitor = self.family.monitor
        self.history: dict[str, list] = {c: [] for c in self.columns}
        self.epoch = 0
        self.best_val = math.inf  # the monitored metric's best value
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
    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, Optional[float]]:
        """(mean loss, accuracy or None) of a supervised family's model on (x, y), in eval mode."""
        return self.stepper.evaluate_on(x, y)  # type: ignore[attr-defined]

    @property
    def x_train(self) -> torch.Tensor:
        return self.split.x_train.to(self.device)

    @property
    def l2(self) -> float:
        """The l2 weight in force (a live change sets it)."""
        return getattr(self.stepper, "l2", 0.0)

    @property
    def x_val(self) -> torch.Tensor:
        return self.split.x_val.to(self.device)

    @property
    def y_val(self) -> torch.Tensor:
        return self.split.y_val.to(self.device)

    def step(self) -> EpochMetrics:
        """Train one epoch with the family's stepper, evaluate, and record the metrics."""
        lr = self.base_lr * lr_factor(self.spec, self.epoch)
        self.stepper.set_lr(lr)
        order = torch.randperm(len(self.split.x_train), generator=self.shuffle)
        values, step_time = self.stepper.train_epoch(order, self.spec.training.batch_size)
        values.update(self.stepper.evaluate())
        self.epoch += 1
        self.weights_epoch = self.epoch
        m = EpochMetrics(self.epoch, lr, step_time,
                         {c: values.get(c) for c in self.columns if c not in ("epoch", "lr", "step_time")})
        self._record(m)
        return m

    def _record(self, m: EpochMetrics) -> None:
        values = m.values
        losses = [v for v in values.values() if v is not None]
        finite = all(math.isfinite(v) for v in losses)
        train = values.get("train_loss")
        exploded = (finite and self.epoch >= 3 and train is not None
                    and train > EXPLODE_FACTOR * max(self.baseline, 1e-3))
        if not finite or exploded:
            self.diverged = True
            # NaN and inf never reach the history: a diverged epoch is recorded as missing.
            for k, v in values.items():
                if v is not None and not math.isfinite(v):
                    values[k] = None
        row = m.to_dict()
        for c in self.columns:
            self.history[c].append(row.get(c))
        if self.diverged or self.monitor is None:
            return
        watched = values.get(self.monitor)
        if watched is None:
            return
        if watched < self.best_val:
            self.best_val, self.best_epoch = watched, m.epoch
            self._best_state = self._copy_weights()
        es = self.spec.training.early_stopping
        if es is None:
            return
        if watched < self._es_best - es.min_delta:
            self._es_best = watched
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
            self.stepper.set_l2(l2)

    def _copy_weights(self) -> dict:
        return {k: v.detach().clone() for k, v in self.stepper.snapshot().items()}  # every member's

    def best_state(self) -> Optional[dict]:
        """Weights of the epoch with the best monitored metric, as saved (None before the first epoch)."""
        return None if self._best_state is None else self.stepper.saved(self._best_state)

    def restore_best(self) -> bool:
        """Keras' restore_best_weights: only once early stopping has triggered. True if it restored."""
        if self.stopped_early and self._es_state is not None:
            self.stepper.restore(self._es_state)
            self.weights_epoch = self._es_epoch or self.epoch
            return True
        return False

    def final_metrics(self, restored: bool) -> tuple[Optional[float], Optional[float]]:
        """(monitored value, val accuracy or None) of the weights the run ends with, which are the
        ones saved and exported."""
        if not self.epoch or self.monitor is None:
            return None, None
        if restored:
            values = self.stepper.evaluate()
            return values.get(self.monitor), values.get("val_acc")
        acc = self.history.get("val_acc")
        return self.history[self.monitor][-1], (acc[-1] if acc else None)

    # -- the whole run ---------------------------------------------------------------
    def run(self, control: Control | None = None, emit: Callable[[Event], None] = lambda e: None,
            epochs: int | None = None) -> RunResult:
        """Train until the last epoch, a stop, early stopping or divergence. Emits an EndEvent last."""
        torch.set_num_threads(1)
        control = control or Control()
        total = epochs or self.spec.training.epochs
        views = ViewCadence(applying(self.family, data_info(self.spec.data)),
                            ViewData(self.split, self.summary, spec=self.spec),
                            lambda kind, epoch, snap: emit(SnapshotEvent(kind, epoch, snap)))
        last_diag = 0.0
        verdict: Optional[str] = None
        status = "finished"

        last_sent = 0.0
        # The network's insides (engine/insides.py), at the views' cadence; the diagnosis reads the latest.
        ins = InsidesCadence(self.family.insides(self.spec, self.model, self.split, self.stepper),
                             lambda epoch, snap: emit(SnapshotEvent("insides", epoch, snap)))

        def diagnose_now(final: bool = False) -> None:
            nonlocal verdict, last_sent
            d = self.family.diagnose(self.history, self.spec, self.baseline,
                                     "diverged" if self.diverged else None, self.best_epoch,
                                     insides=ins.view, stopped_early=self.stopped_early)
            now = time.perf_counter()
            # A new verdict goes out at once; the same verdict with fresher numbers now and then.
            if final or d.verdict != verdict or now - last_sent >= DIAGNOSIS_REFRESH_S:
                verdict, last_sent = d.verdict, now
                emit(DiagnosisEvent(d))

        # Views are taken of the weights the model holds: after restore_best, the best epoch's.
        def on_pick(index: int) -> None:  # a pick while paused is answered at once
            views.pick(index, self.model, self.weights_epoch)

        while self.epoch < total:
            if not control.wait_turn(on_pick):
                status = "stopped"
                break
            self.apply_changes(*control.take_changes())
            pick = control.take_pick()
            emit(EpochEvent(self.step()))
            if self.diverged:
                status = "diverged"
                break
            now = time.perf_counter()
            if now - last_diag >= DIAGNOSIS_INTERVAL_S:
                diagnose_now()
                last_diag = time.perf_counter()
            if pick is not None:
                views.pick(pick, self.model, self.weights_epoch)
            views.due(self.model, self.weights_epoch)
            ins.due(self.epoch, self.history["lr"][-1], getattr(self.stepper, "l1", 0.0), self.l2)
            if self.stopped_early:
                break
        restored = self.restore_best()
        if not self.diverged and self.epoch > 0:
            views.all(self.model, self.weights_epoch)
            ins.final(self.epoch, self.weights_epoch, self.history["lr"][-1], getattr(self.stepper, "l1", 0.0),
                      self.l2)
        elif self.diverged:  # the gradients at the blow-up tell exploding gradients from an overshoot
            ins.diverged(self.epoch, self.history["lr"][-1], getattr(self.stepper, "l1", 0.0), self.l2)
        diagnose_now(final=True)
        val_loss, val_acc = self.final_metrics(restored)
        emit(EndEvent(status, self.epoch, self.best_epoch, val_loss, verdict, self.stopped_early,
                      DIVERGED_ADVICE if status == "diverged" else None, val_acc=val_acc,
                      weights_epoch=self.weights_epoch if self.epoch else None))
        return RunResult(status, self.epoch, self.best_epoch, self.stopped_early)

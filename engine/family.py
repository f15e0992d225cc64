"""The family contract: everything that differs between kinds of network lives behind it.

A family (classification, regression, forecasting; later reconstruction and generation) names
its stacks, infers their shapes, builds their modules, trains them through a Stepper, names its
metric columns and the one that picks the best epoch, computes its baseline, diagnoses a history
and contributes its part of the exported script. The trainer, the server and the page read a
family only through this contract, so adding one is adding files (docs/architecture.md).

This module imports nothing of the engine but the registry, so that the data contract, the spec
and shape inference can all depend on it without an import circle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Optional

import torch

from .registry import Registry

if TYPE_CHECKING:  # annotations only: these modules import this one
    from .data import DataInfo, Split
    from .events import Diagnosis
    from .shapes import Summary
    from .spec import ExperimentSpec, ModelSpec


class Metric(NamedTuple):
    """One history column a family reports each epoch."""

    name: str  # the column's key in events, history and `metrics` messages
    label: str  # what the page prints
    chart: str  # the chart group it is drawn in: "loss", "acc", ... (same group, same axes)
    pair: Optional[str] = None  # on a train column: its validation column; the page shades the gap
    percent: bool = False  # a share in [0, 1], printed as a percentage
    baseline: bool = False  # a reference line (naive forecast, ...), drawn thin and grey

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


@dataclass(frozen=True)
class StackDef:
    """A named stack of layers in `model`: `path` is where its list lives, e.g. 'layers' or 'encoder.layers'."""

    name: str
    label: str  # the builder's list is named this ("Layers", "Encoder layers")
    path: str

    def layers(self, model: Any) -> list:
        """The stack's layer specs, read from a validated ModelSpec."""
        node = model
        for part in self.path.split("."):
            node = getattr(node, part)
        return list(node)


class Stepper:
    """Owns a family's modules, optimizers and losses; trains one epoch at a time.

    `train_epoch(order, batch_size)` returns the epoch's training metrics and `evaluate()` the
    validation ones, both keyed by the family's metric names (None where a value does not apply).
    """

    def train_epoch(self, order: torch.Tensor, batch_size: int) -> tuple[dict[str, Optional[float]], float]:
        """Train one pass in `order` (a permutation of the training rows): (metrics, seconds per step)."""
        raise NotImplementedError

    def evaluate(self) -> dict[str, Optional[float]]:
        """Validation metrics in eval mode."""
        raise NotImplementedError

    def set_lr(self, lr: float) -> None:
        """Set every optimizer's learning rate (the schedule and live changes call this)."""
        raise NotImplementedError

    def set_l2(self, l2: float) -> None:
        """A live change of the l2 penalty; families without one ignore it."""

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The weights to save; keys are the module's own (a multi-stack family prefixes the stack)."""
        raise NotImplementedError

    def load_state_dict(self, sd: dict[str, torch.Tensor]) -> None:
        """Load weights saved by `state_dict`."""
        raise NotImplementedError

    # The trainer's in-memory copies (best epoch, early stopping) hold every weight it trains, which
    # for an ensemble is more than the saved weights (member 0's: engine/families/ensemble.py).
    def snapshot(self) -> dict[str, torch.Tensor]:
        """Every weight the stepper trains, for the trainer to copy (default: `state_dict`)."""
        return self.state_dict()

    def restore(self, snap: dict[str, torch.Tensor]) -> None:
        """Load a copy of `snapshot`."""
        self.load_state_dict(snap)

    def saved(self, snap: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The part of a `snapshot` that is saved and exported, keyed as `state_dict`."""
        return snap


@dataclass
class ExportParts:
    """What a family adds to the standalone script (engine/export.py writes the rest)."""

    model: str  # `def build_model():` returning the modules, built in the engine's order
    train: str  # `def to_y(y)`, the loss, the baseline, evaluation and `def train(verbose)` -> (model, history)
    helpers: list[str] = field(default_factory=list)  # names in engine.export_code.HELPERS that model needs
    constants: dict[str, Any] = field(default_factory=dict)  # NAME = literal lines before the loop


class Family:
    """Base of every family. Subclasses set the class attributes and override the methods."""

    name: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str] = ""
    stacks: ClassVar[tuple[StackDef, ...]] = (StackDef("layers", "Layers", "layers"),)
    metrics: ClassVar[tuple[Metric, ...]] = ()
    monitor: ClassVar[Optional[str]] = "val_loss"  # lower is better: the best epoch (and early stopping's)
    no_early_stopping: ClassVar[Optional[str]] = None  # why early stopping is refused (None: it is offered)
    # Why training.seeds > 1 is refused (None: ensembles are offered, and ensemble_stepper trains them).
    no_ensemble: ClassVar[Optional[str]] = "it trains one network at a time."
    training_fields: ClassVar[tuple[str, ...]] = ()  # the family-only TrainingSpec fields it reads (d_lr, ...)
    target: ClassVar[str] = "value"  # how labels become y: "class" (long (N,)), "value" (float (N, H))
    data_kinds: ClassVar[Optional[tuple[str, ...]]] = None  # data kinds it trains on (None: any)
    views: ClassVar[tuple[str, ...]] = ()  # view kinds it can feed (the view registry decides)
    charts: ClassVar[dict[str, str]] = {"loss": "Loss", "acc": "Accuracy"}  # chart group -> its title
    head: ClassVar[str] = "linear"  # how the page reads the output head: "softmax" for a classifier
    presets: ClassVar[tuple[dict[str, Any], ...]] = ()  # the family's own "Load an example" entries

    def model_spec(self) -> "type[ModelSpec]":
        """The pydantic model of `spec.model` for this family (its stacks and options)."""
        raise NotImplementedError

    def fits(self, data: "DataInfo") -> Optional[str]:
        """None when the family trains on `data`, else why not: a sentence for the user, or "" when
        the data's natural task is another one (the dataset's task_problem then says why)."""
        if self.data_kinds is not None and data.kind not in self.data_kinds:
            return f"task {self.name!r} needs {' or '.join(self.data_kinds)} data"
        return None

    def plan(self, spec: "ExperimentSpec", data: "DataInfo") -> "Summary":
        """Shape inference for every stack; raises ShapeError naming the stack's paths."""
        raise NotImplementedError

    def build(self, spec: "ExperimentSpec", summary: "Summary") -> torch.nn.Module:
        """The modules, built in order (the reproducibility protocol seeds just before this)."""
        raise NotImplementedError

    def stepper(self, spec: "ExperimentSpec", model: torch.nn.Module, split: "Split",
                device: torch.device) -> Stepper:
        """A Stepper that trains `model` on `split`."""
        raise NotImplementedError

    def engine_path(self, spec: "ExperimentSpec", summary: "Summary", device: torch.device) -> tuple[str, str]:
        """(which compute path its stepper trains on, why): the run's summary and page say it."""
        return "autograd", f"the {self.name} family trains on autograd"

    def ensemble_stepper(self, spec: "ExperimentSpec", members: list[torch.nn.Module], split: "Split",
                         device: torch.device) -> Stepper:
        """A Stepper that trains the `members` (built with seeds seed, seed + 1, ...) side by side and
        reports their mean in the metric columns and their spread in `<metric>_sd` (columns_for)."""
        raise NotImplementedError

    def baseline(self, split: "Split") -> float:
        """The loss of learning nothing (the constant guess): the scale of divergence and diagnosis."""
        raise NotImplementedError

    def diagnose(self, history: dict[str, list], spec: "ExperimentSpec", baseline: float,
                 status: Optional[str], best_epoch: Optional[int], insides: Optional[dict[str, Any]] = None,
                 stopped_early: bool = False) -> "Diagnosis":
        """The verdict on a history (engine/diagnosis.py holds the shared rules); `insides` is the
        latest insides view, if the family records one."""
        raise NotImplementedError

    def insides(self, spec: "ExperimentSpec", model: Any, split: Any, stepper: Any) -> Any:
        """The recorder of the network's insides (engine/insides.py), or None if the family has none.
        A multi-stack family returns Insides.of_stacks(spec, model, self.stacks, probe), where probe()
        gives each stack's loss on a fixed probe batch: every stack then has its rows in the page."""
        return None

    def export(self, spec: "ExperimentSpec", summary: "Summary") -> ExportParts:
        """The family's part of the standalone script (engine/export.py assembles it)."""
        raise NotImplementedError

    def empty_model(self) -> dict[str, Any]:
        """`spec.model` with every stack empty (a data preview's); a family with options adds its defaults."""
        out: dict[str, Any] = {}
        for s in self.stacks:
            node = out
            *parents, leaf = s.path.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = []
        return out

    def early_stopping_refused(self) -> Optional[str]:
        """Why this family refuses training.early_stopping, or None where it is offered."""
        if self.no_early_stopping is not None:
            return self.no_early_stopping
        return None if self.monitor is not None else "it has no monitored metric to stop on."

    def ensemble_refused(self) -> Optional[str]:
        """Why this family refuses training.seeds > 1, or None where ensembles are offered."""
        return self.no_ensemble

    def columns(self) -> tuple[str, ...]:
        """The history columns of a run of this family, in order."""
        return ("epoch", *(m.name for m in self.metrics), "lr", "step_time")

    def spread_metrics(self) -> tuple[str, ...]:
        """The metrics an ensemble reports the seed-to-seed spread of (not reference lines such as
        the naive forecast, which are the same for every member)."""
        return tuple(m.name for m in self.metrics if not m.baseline)

    def columns_for(self, spec: Optional["ExperimentSpec"]) -> tuple[str, ...]:
        """The history columns of one spec's runs: `columns()`, plus `<metric>_sd` before lr for an
        ensemble (training.seeds > 1), the sample standard deviation over its members."""
        cols = self.columns()
        if spec is None or spec.training.seeds <= 1:
            return cols
        spread = tuple(spread_column(name) for name in self.spread_metrics())
        return (*cols[:-2], *spread, *cols[-2:])

    def catalog_entry(self) -> dict[str, Any]:
        """What /api/catalog says about the family."""
        return {"name": self.name, "label": self.label, "description": self.description, "target": self.target,
                "stacks": [{"name": s.name, "label": s.label, "path": s.path} for s in self.stacks],
                "metrics": [m.to_dict() for m in self.metrics], "monitor": self.monitor,
                "early_stopping": self.early_stopping_refused(), "training_fields": list(self.training_fields),
                "ensemble": self.ensemble_refused(), "spread": [spread_column(n) for n in self.spread_metrics()],
                "charts": [{"name": g, "label": self.charts.get(g, g.replace("_", " ").capitalize())}
                           for g in dict.fromkeys(m.chart for m in self.metrics)],
                "columns": list(self.columns()), "empty_model": self.empty_model(),
                "head": self.head, "data_kinds": list(self.data_kinds) if self.data_kinds else None,
                "views": list(self.views)}


FAMILIES: Registry[Family] = Registry("task")
SPREAD_SUFFIX = "_sd"  # an ensemble's spread column of metric m is m + this (static/js/protocol.js)


def spread_column(metric: str) -> str:
    """The name of a metric's seed-to-seed spread column: val_loss -> val_loss_sd."""
    return metric + SPREAD_SUFFIX


def columns_of(task: Optional[str], spec: Optional["ExperimentSpec"] = None) -> tuple[str, ...]:
    """The history columns of a task's runs (a task no longer registered keeps the supervised ones);
    with the spec, an ensemble's spread columns too."""
    if task is not None and task in FAMILIES:
        return FAMILIES.get(task).columns_for(spec)
    from .events import HISTORY_COLUMNS
    return HISTORY_COLUMNS


def monitor_of(task: Optional[str]) -> Optional[str]:
    """The column that picks a task's best epoch (val_loss for a task no longer registered)."""
    return FAMILIES.get(task).monitor if task is not None and task in FAMILIES else "val_loss"

"""The view registry: each view says which tasks and data it applies to, and takes its snapshot.

A view is a plug-in like a layer or a dataset: its module registers a `View` in `VIEWS`, and
nothing else names it. The trainer asks `applying(task, data)` which views to feed and leaves
their timing to a `ViewCadence`: the budget decides. All views together cost at most BUDGET (5%)
of the wall time; each view gets a share of it in proportion to its `budget` weight and is timed
on its own cost, so a costly view (a forecast rollout) refreshes less often without slowing a
cheap one, and a cheap one refreshes up to 30 times a second (issue 16: a tiny net's 64 x 64
boundary costs about a millisecond; the old fixed cap of 5 Hz was set for large nets).

The built-in views register in engine/viewkinds/; importing that package is what adds them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch
from torch import nn

from .data import DataInfo, Split
from .registry import Registry
from .shapes import Summary

MIN_INTERVAL_S = 1 / 30  # a view refreshes at most 30 times a second
BUDGET = 0.05  # share of wall time all of a run's snapshots together may cost


@dataclass
class ViewData:
    """What a view may look at besides the model: the split, the shapes, and the user's pick."""

    split: Split
    summary: Summary
    pick: int = 0  # the validation row the user picked (feature maps)
    spec: Any = None  # the run's ExperimentSpec (its seeds and dataset), for views that need them
    cache: dict = field(default_factory=dict)  # what a view computes once per run (a grid of the data's span)
    _x_all: Optional[torch.Tensor] = field(default=None, repr=False)

    @property
    def x_all(self) -> torch.Tensor:
        """Train and validation inputs together, (N_train + N_val, *input_shape)."""
        if self._x_all is None:
            self._x_all = torch.cat([self.split.x_train, self.split.x_val])
        return self._x_all


@dataclass(frozen=True)
class View:
    """One kind of snapshot: where it applies, and how to take it (JSON-ready, without kind/epoch)."""

    kind: str
    title: str  # the page's name for it
    applies: Callable[[Any, DataInfo], bool]  # (task or family, data info) -> whether it fits
    take: Callable[[nn.Module, ViewData, int], dict[str, Any]]  # (model, data, epoch) -> snapshot
    tasks: tuple[str, ...] = ()  # task (family) names it can feed; () = every task
    data_kinds: tuple[str, ...] = ()  # DataInfo.kind values it can show; () = every kind
    budget: float = 1.0  # its weight in splitting BUDGET between the views of a run
    # Refresh at once when the user picks something (the feature maps of a chosen digit).
    follows_pick: bool = False

    def serves(self, task_name: str) -> bool:
        """Whether the view can feed a task of this name at all (the catalog's list)."""
        return not self.tasks or task_name in self.tasks


VIEWS: Registry[View] = Registry("view")


def is_classifier(family: Any) -> bool:
    """Whether the family (or task) predicts classes: its targets are class indices."""
    return getattr(family, "target", None) == "class"


def register_view(view: View) -> View:
    """Add a view to the registry under its kind."""
    return VIEWS.register(view.kind, view)


def applying(task: Any, data: DataInfo) -> list[View]:
    """The registered views that fit this task (or family) and data, in registration order."""
    return [v for _, v in VIEWS.items() if v.serves(task.name) and v.applies(task, data)]


def views_of(task_name: str) -> list[View]:
    """Every registered view a task (or family) can feed, for the catalog."""
    return [v for _, v in VIEWS.items() if v.serves(task_name)]


@torch.no_grad()
def take(view: View, model: nn.Module, data: ViewData, epoch: int) -> dict[str, Any]:
    """The view's snapshot with the model in eval mode, its train/eval mode restored after."""
    was_training = model.training
    model.eval()
    try:
        return {"epoch": epoch, **view.take(model, data, epoch)}
    finally:
        model.train(was_training)


class ViewCadence:
    """When each view is due: at most every MIN_INTERVAL_S, and no more often than its budget allows."""

    def __init__(self, views: list[View], data: ViewData,
                 emit: Callable[[str, int, dict[str, Any]], None]) -> None:
        self.views = views
        self.data = data
        self.emit = emit  # (kind, epoch, snapshot) -> None
        self._last = {v.kind: 0.0 for v in views}
        self._cost = {v.kind: 0.0 for v in views}
        weights = sum(v.budget for v in views) or 1.0
        self._share = {v.kind: BUDGET * v.budget / weights for v in views}  # of the wall time

    def _take(self, view: View, model: nn.Module, epoch: int) -> None:
        t = time.perf_counter()
        snap = take(view, model, self.data, epoch)
        self.emit(view.kind, epoch, snap)
        now = time.perf_counter()
        self._cost[view.kind] = now - t
        self._last[view.kind] = now

    def due(self, model: nn.Module, epoch: int) -> None:
        """Take every view whose interval has passed."""
        for v in self.views:
            wait = max(MIN_INTERVAL_S, self._cost[v.kind] / self._share[v.kind])
            if time.perf_counter() - self._last[v.kind] >= wait:
                self._take(v, model, epoch)

    def all(self, model: nn.Module, epoch: int) -> None:
        """Take every view now (the end of a run)."""
        for v in self.views:
            self._take(v, model, epoch)

    def pick(self, index: int, model: nn.Module, epoch: int) -> None:
        """The user picked validation row `index`: the views that follow a pick refresh now."""
        self.data.pick = min(max(0, index), len(self.data.split.x_val) - 1)
        for v in self.views:
            if v.follows_pick:
                self._take(v, model, epoch)


def rounded(t: torch.Tensor, digits: int) -> list:
    """round(v, digits) for every value, done in torch: a Python round() per cell was two thirds of
    a 64x64 boundary snapshot's cost, and snapshots are part of every run's wall time."""
    scale = 10.0 ** digits
    return (t.double() * scale).round().div(scale).tolist()


def model_device(model: nn.Module) -> torch.device:
    """Where the model's parameters live (CPU for a model without any)."""
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")

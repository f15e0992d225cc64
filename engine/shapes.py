"""Shape inference before any tensor is allocated: each layer's output shape and parameter
count, the output head included, as Keras' model.summary() shows them, stack by stack.
The family plans its stacks (engine/stack.py does one); this module holds the summary and the caps."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from .data import data_info
from .errors import ErrorItem, ShapeError, SpecError
from .family import FAMILIES
from .layers import fmt
from .spec import ExperimentSpec, Limits

Shape = tuple[int, ...]


@dataclass
class LayerRow:
    """One row of the summary table."""

    index: int  # position in its stack; a head has index == len(stack)
    type: str
    path: str
    input_shape: Shape
    output_shape: Shape
    params: int
    activation: str | None = None
    is_head: bool = False
    stack: str = "layers"  # the family's stack it belongs to


@dataclass
class Summary:
    """Everything shape inference learned about a spec."""

    input_shape: Shape
    task: str
    n_classes: int | None
    rows: list[LayerRow] = field(default_factory=list)  # every stack's rows, in build order
    engine: str = "autograd"  # the compute path its stepper trains on (Family.engine_path)
    engine_why: str = ""  # why that path: the fused path's scope, or what put the spec outside it

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def stacks(self) -> dict[str, list[LayerRow]]:
        """The rows of each stack, in order."""
        out: dict[str, list[LayerRow]] = {}
        for r in self.rows:
            out.setdefault(r.stack, []).append(r)
        return out

    def to_dict(self) -> dict[str, Any]:
        def row(r: LayerRow) -> dict[str, Any]:
            return {**asdict(r), "input_shape": list(r.input_shape), "output_shape": list(r.output_shape)}
        return {"input_shape": list(self.input_shape), "task": self.task, "n_classes": self.n_classes,
                "layers": [row(r) for r in self.rows],
                "stacks": {name: [row(r) for r in rows] for name, rows in self.stacks.items()},
                "total_params": self.total_params, "engine": self.engine, "engine_why": self.engine_why}

    def table(self) -> str:
        """A plain-text table for the CLI."""
        lines = [f"input {fmt(self.input_shape)}", f"{'#':>3}  {'layer':<18}{'output':<16}{'params':>10}"]
        several = len(self.stacks) > 1
        for r in self.rows:
            if several and (r is self.stacks[r.stack][0]):
                lines.append(f"  [{r.stack}]")
            name = "head (dense)" if r.is_head else r.type
            if r.activation and r.activation != "linear":
                name += f" {r.activation}"
            idx = "out" if r.is_head else str(r.index)
            lines.append(f"{idx:>3}  {name:<18}{fmt(r.output_shape):<16}{r.params:>10,}")
        lines.append(f"total parameters: {self.total_params:,}")
        return "\n".join(lines)


def infer(spec: ExperimentSpec, limits: Limits | None = None) -> Summary:
    """Infer every stack's shapes and parameters (the family plans them); raise ShapeError naming
    each layer that does not fit, or the cap that the model passes."""
    data = data_info(spec.data)
    summary = FAMILIES.get(spec.task or data.task).plan(spec, data)
    limits = limits or Limits()
    if summary.total_params > limits.max_params:
        first = FAMILIES.get(summary.task).stacks[0]
        raise ShapeError([ErrorItem(f"model.{first.path}", f"the model has {summary.total_params:,} parameters; "
                                    f"the cap is {limits.max_params:,}. Use fewer units or filters")])
    seeds = spec.training.seeds  # an ensemble holds (and trains) every member's weights at once
    if seeds > 1 and seeds * summary.total_params > limits.max_params:
        raise ShapeError([ErrorItem("training.seeds", f"{seeds} members of {summary.total_params:,} parameters are "
                                    f"{seeds * summary.total_params:,}; the cap is {limits.max_params:,}. "
                                    "Use fewer seeds or a smaller model")])
    summary.engine, summary.engine_why = _engine_path(spec, summary)
    mib = seeds * activation_mib(summary, spec.training.batch_size)
    if mib > limits.max_activation_mib:
        raise ShapeError([ErrorItem("training.batch_size", f"one batch needs about {mib:,.0f} MiB of activations; "
                                    f"the cap is {limits.max_activation_mib:,} MiB. Lower batch_size or layer sizes")])
    return summary


def _engine_path(spec: ExperimentSpec, summary: Summary) -> tuple[str, str]:
    """The family's choice of compute path on the device the spec resolves to here."""
    from .device import resolve_device
    try:
        device = resolve_device(spec.training.device)
    except SpecError:
        return "autograd", f"device {spec.training.device!r} is not available here"
    return FAMILIES.get(summary.task).engine_path(spec, summary, device)


def activation_mib(summary: Summary, batch_size: int) -> float:
    """Rough memory of one training batch: every layer's output, kept for backward, with its gradient."""
    per_sample = math.prod(summary.input_shape) + sum(math.prod(r.output_shape) for r in summary.rows)
    return batch_size * per_sample * 4 * 3 / 2**20  # float32; activations, gradients and slack

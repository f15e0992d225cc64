"""Shape inference before any tensor is allocated: each layer's output shape and parameter
count, the output head included, as Keras' model.summary() shows them."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from .datasets import data_info
from .errors import ErrorItem, ShapeError
from .layers import Dense, LayerSpec, ShapeProblem, fmt
from .spec import ExperimentSpec, Limits
from .tasks import TASKS

Shape = tuple[int, ...]


@dataclass
class LayerRow:
    """One row of the summary table."""

    index: int  # position in model.layers; the head has index == len(layers)
    type: str
    path: str
    input_shape: Shape
    output_shape: Shape
    params: int
    activation: str | None = None
    is_head: bool = False


@dataclass
class Summary:
    """Everything shape inference learned about a spec."""

    input_shape: Shape
    task: str
    n_classes: int | None
    rows: list[LayerRow] = field(default_factory=list)

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"input_shape": list(self.input_shape), "task": self.task, "n_classes": self.n_classes,
                "layers": [{**asdict(r), "input_shape": list(r.input_shape),
                            "output_shape": list(r.output_shape)} for r in self.rows],
                "total_params": self.total_params}

    def table(self) -> str:
        """A plain-text table for the CLI."""
        lines = [f"input {fmt(self.input_shape)}", f"{'#':>3}  {'layer':<18}{'output':<16}{'params':>10}"]
        for r in self.rows:
            name = "head (dense)" if r.is_head else r.type
            if r.activation and r.activation != "linear":
                name += f" {r.activation}"
            idx = "out" if r.is_head else str(r.index)
            lines.append(f"{idx:>3}  {name:<18}{fmt(r.output_shape):<16}{r.params:>10,}")
        lines.append(f"total parameters: {self.total_params:,}")
        return "\n".join(lines)


def head_layer(task: str, n_classes: int | None) -> Dense:
    """The output head that the task adds on top of the hidden stack."""
    return Dense(units=TASKS.get(task).head_units(n_classes), activation="linear")


def infer(spec: ExperimentSpec, limits: Limits | None = None) -> Summary:
    """Infer every layer's shape and parameters; raise ShapeError naming each layer that does not fit."""
    data = data_info(spec.data)
    summary = Summary(data.input_shape, spec.task or data.task, data.n_classes)
    shape: Shape = summary.input_shape
    layers: list[LayerSpec] = list(spec.model.layers)
    for i, layer in enumerate(layers):
        path = f"model.layers[{i}]"
        try:
            out, n = layer.infer(shape, i)
        except ShapeProblem as p:
            raise ShapeError([ErrorItem(path, f"{path} ({layer.type}): {p.message}", p.fix)]) from None
        summary.rows.append(LayerRow(i, layer.type, path, shape, out, n, getattr(layer, "activation", None)))
        shape = out
    head = head_layer(summary.task, summary.n_classes)
    n = len(layers)
    if not layers:
        # [] is a linear model (docs/spec.md): an image (C, H, W) or sequence (T, F) input is
        # flattened into the head, (B, *shape) -> (B, prod(shape)); build_model adds the nn.Flatten.
        shape = (math.prod(shape),)
    if len(shape) != 1:
        where = f"model.layers[{n - 1}]"
        raise ShapeError([ErrorItem(
            where, f"{where} ({layers[-1].type}): output is {fmt(shape)} but the output head needs "
            "features (F,); add a flatten layer at the end",
            {"op": "insert", "index": n, "layer": {"type": "flatten"}, "label": "Add flatten"})])
    out, params = head.infer(shape, n)
    summary.rows.append(LayerRow(n, "dense", "model.head", shape, out, params, "linear", is_head=True))
    limits = limits or Limits()
    if summary.total_params > limits.max_params:
        raise ShapeError([ErrorItem("model.layers", f"the model has {summary.total_params:,} parameters; "
                                    f"the cap is {limits.max_params:,}. Use fewer units or filters")])
    mib = activation_mib(summary, spec.training.batch_size)
    if mib > limits.max_activation_mib:
        raise ShapeError([ErrorItem("training.batch_size", f"one batch needs about {mib:,.0f} MiB of activations; "
                                    f"the cap is {limits.max_activation_mib:,} MiB. Lower batch_size or layer sizes")])
    return summary


def activation_mib(summary: Summary, batch_size: int) -> float:
    """Rough memory of one training batch: every layer's output, kept for backward, with its gradient."""
    per_sample = math.prod(summary.input_shape) + sum(math.prod(r.output_shape) for r in summary.rows)
    return batch_size * per_sample * 4 * 3 / 2**20  # float32; activations, gradients and slack

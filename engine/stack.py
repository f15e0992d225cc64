"""One stack of layers: its shape inference and its modules, shared by every family.

A family calls `infer_stack` once per named stack, with the path prefix that its errors use
(`model.layers`, `model.encoder.layers`), and `build_stack` with the rows that came back.
"""

from __future__ import annotations

from torch import nn

from .errors import ErrorItem, ShapeError
from .family import StackDef
from .layers import Dense, LayerSpec, ShapeProblem, fmt
from .shapes import LayerRow, Shape


def infer_stack(layers: list[LayerSpec], shape: Shape, stack: StackDef) -> tuple[list[LayerRow], Shape]:
    """Each layer's row in order, and the stack's output shape; ShapeError names `model.<path>[i]`."""
    rows: list[LayerRow] = []
    for i, layer in enumerate(layers):
        path = f"model.{stack.path}[{i}]"
        try:
            out, n = layer.infer(shape, i)
        except ShapeProblem as p:
            # The fix's index is within the stack that the path names.
            raise ShapeError([ErrorItem(path, f"{path} ({layer.type}): {p.message}", p.fix)]) from None
        rows.append(LayerRow(i, layer.type, path, shape, out, n, getattr(layer, "activation", None),
                             stack=stack.name))
        shape = out
    return rows, shape


def dense_head(units: int, shape: Shape, layers: list[LayerSpec], stack: StackDef, path: str,
               index: int | None = None) -> tuple[LayerRow, Dense]:
    """A linear Dense head of `units` on a stack's (F,) output; ShapeError with a flatten fix otherwise."""
    n = len(layers)
    if len(shape) != 1:
        # An empty stack hands the data's own shape to the head: the error is on the stack itself.
        where = f"model.{stack.path}[{n - 1}]" if n else f"model.{stack.path}"
        what = f"{where} ({layers[-1].type}): output is" if n else f"{where}: the input is"
        raise ShapeError([ErrorItem(
            where, f"{what} {fmt(shape)} but the output head needs features (F,); add a flatten layer at the end",
            {"op": "insert", "index": n, "layer": {"type": "flatten"}, "label": "Add flatten"})])
    head = Dense(units=units, activation="linear")
    out, params = head.infer(shape, n)
    row = LayerRow(n if index is None else index, "dense", path, shape, out, params, "linear", is_head=True,
                   stack=stack.name)
    return row, head


def build_stack(layers: list[LayerSpec], rows: list[LayerRow]) -> list[nn.Module]:
    """One module per layer, built for the input shape its row inferred."""
    return [layer.build(row.input_shape) for layer, row in zip(layers, rows)]

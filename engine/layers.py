"""Layer registry. Each layer type is a pydantic model of its parameters that also knows
its output shape, its parameter count and how to build its module.

Shapes exclude the batch dimension: (F,) for features, (C, H, W) for images and
(T, F) for sequences. Parameter counts are computed without allocating a tensor and
are checked against torch in the tests.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator
import torch
from torch import nn

from .activations import ACTIVATIONS, make_activation
from .registry import Registry

Shape = tuple[int, ...]


class ShapeProblem(Exception):
    """A layer that cannot take its input shape: what is wrong, what to do, and a one-click fix."""

    def __init__(self, message: str, fix: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


def fmt(shape: Shape) -> str:
    """Shapes print as Keras prints them: (16,) or (8, 6, 6)."""
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


class LayerSpec(BaseModel):
    """Base of every layer's parameters. `index` is where the layer stands in the stack."""

    model_config = ConfigDict(extra="forbid")
    label: ClassVar[str] = ""
    category: ClassVar[str] = "core"

    def infer(self, shape: Shape, index: int) -> tuple[Shape, int]:
        """Return (output shape, parameter count) or raise ShapeProblem."""
        raise NotImplementedError

    def build(self, shape: Shape) -> nn.Module:
        """Build the module for input `shape` (already checked by infer)."""
        raise NotImplementedError


class WeightedLayer(LayerSpec):
    """A layer with weights; it takes an activation, applied after it."""

    activation: str = Field("relu", description="activation applied to the layer's output")

    @field_validator("activation")
    @classmethod
    def _known_activation(cls, v: str) -> str:
        return ACTIVATIONS.check(v)

    def build(self, shape: Shape) -> nn.Module:
        return nn.Sequential(self.core(shape), make_activation(self.activation))

    def core(self, shape: Shape) -> nn.Module:
        raise NotImplementedError


LAYERS: Registry[type[LayerSpec]] = Registry("layer type")


def _insert_flatten(index: int) -> dict[str, Any]:
    return {"op": "insert", "index": index, "layer": {"type": "flatten"}, "label": "Insert flatten"}


def _remove(index: int) -> dict[str, Any]:
    return {"op": "remove", "index": index, "label": "Remove this layer"}


def _need_image(name: str, shape: Shape, index: int) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ShapeProblem(
            f"input is {fmt(shape)}; {name} needs an image input (C, H, W). "
            "Use it on image data (digits) before any flatten or dense layer, or remove it",
            _remove(index))
    return shape  # type: ignore[return-value]


@LAYERS.register("dense")
class Dense(WeightedLayer):
    """Fully connected: (F,) -> (units,)."""

    label: ClassVar[str] = "Dense"
    type: Literal["dense"] = "dense"
    units: int = Field(16, ge=1, le=4096, description="output features")

    def infer(self, shape: Shape, index: int) -> tuple[Shape, int]:
        if len(shape) != 1:
            raise ShapeProblem(f"input is {fmt(shape)}; insert a flatten layer before it",
                               _insert_flatten(index))
        return (self.units,), shape[0] * self.units + self.units

    def core(self, shape: Shape) -> nn.Module:
        return nn.Linear(shape[0], self.units)


def _same_padding(kernel: int) -> int:
    return kernel // 2


@LAYERS.register("conv2d")
class Conv2D(WeightedLayer):
    """2-D convolution: (C, H, W) -> (filters, H', W')."""

    label: ClassVar[str] = "Conv2D"
    category: ClassVar[str] = "convolution"
    type: Literal["conv2d"] = "conv2d"
    filters: int = Field(8, ge=1, le=512, description="output channels")
    kernel_size: int = Field(3, ge=1, le=15)
    stride: int = Field(1, ge=1, le=8)
    padding: Union[Literal["same", "valid"], int] = Field(
        "same", description="'same' (kernel_size // 2 on each side), 'valid' (0) or a number")

    @field_validator("padding", mode="before")
    @classmethod
    def _padding_value(cls, v: Any) -> Any:
        # Checked before the union, which would report one error per member, each at a path
        # such as padding.literal['same','valid'] that names no field of the spec.
        ok_int = isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 7
        if not (ok_int or v in ("same", "valid")):
            raise ValueError("padding must be 'same', 'valid' or between 0 and 7")
        return v

    def padding_px(self) -> int:
        """Zero padding on each side, in pixels."""
        if self.padding == "same":
            return _same_padding(self.kernel_size)
        return 0 if self.padding == "valid" else int(self.padding)

    def infer(self, shape: Shape, index: int) -> tuple[Shape, int]:
        c, h, w = _need_image("conv2d", shape, index)
        p = self.padding_px()
        oh = (h + 2 * p - self.kernel_size) // self.stride + 1
        ow = (w + 2 * p - self.kernel_size) // self.stride + 1
        if oh < 1 or ow < 1:
            raise ShapeProblem(
                f"input is {fmt(shape)}; a {self.kernel_size}x{self.kernel_size} kernel does not fit. "
                "Reduce kernel_size or use padding 'same'")
        return (self.filters, oh, ow), c * self.filters * self.kernel_size ** 2 + self.filters

    def core(self, shape: Shape) -> nn.Module:
        return nn.Conv2d(shape[0], self.filters, self.kernel_size, self.stride, self.padding_px())


class _Pool(LayerSpec):
    category: ClassVar[str] = "convolution"
    kernel_size: int = Field(2, ge=1, le=8)
    stride: int | None = Field(None, ge=1, le=8, description="defaults to kernel_size")

    def infer(self, shape: Shape, index: int) -> tuple[Shape, int]:
        c, h, w = _need_image(self.type, shape, index)  # type: ignore[attr-defined]
        s = self.stride or self.kernel_size
        oh, ow = (h - self.kernel_size) // s + 1, (w - self.kernel_size) // s + 1
        if oh < 1 or ow < 1:
            raise ShapeProblem(f"input is {fmt(shape)}; a {self.kernel_size}x{self.kernel_size} "
                               "window does not fit. Reduce kernel_size or remove this layer",
                               _remove(index))
        return (c, oh, ow), 0


@LAYERS.register("maxpool2d")
class MaxPool2D(_Pool):
    """Max pooling: (C, H, W) -> (C, H/k, W/k)."""

    label: ClassVar[str] = "MaxPool2D"
    type: Literal["maxpool2d"] = "maxpool2d"

    def build(self, shape: Shape) -> nn.Module:
        return nn.MaxPool2d(self.kernel_size, self.stride or self.kernel_size)


@LAYERS.register("avgpool2d")
class AvgPool2D(_Pool):
    """Average pooling: (C, H, W) -> (C, H/k, W/k)."""

    label: ClassVar[str] = "AvgPool2D"
    type: Literal["avgpool2d"] = "avgpool2d"

    def build(self, shape: Shape) -> nn.Module:
        return nn.AvgPool2d(self.kernel_size, self.stride or self.kernel_size)


@LAYERS.register("flatten")
class Flatten(LayerSpec):
    """(C, H, W) or (T, F) -> (C*H*W,) or (T*F,). A no-op on (F,)."""

    label: ClassVar[str] = "Flatten"
    type: Literal["flatten"] = "flatten"

    def infer(self, shape: Shape, index: int) -> tuple[Shape, int]:
        return (math.prod(shape),), 0

    def build(self, shape: Shape) -> nn.Module:
        return nn.Flatten()  # (B, *shape) -> (B, prod(shape))


@LAYERS.register("dropout")
class Dropout(LayerSpec):
    """Zeroes each input with probability p while training; the identity at evaluation."""

    label: ClassVar[str] = "Dropout"
    category: ClassVar[str] = "regularization"
    type: Literal["dropout"] = "dropout"
    p: float = Field(0.2, ge=0.0, lt=1.0, description="drop probability")

    def infer(self, shape: Shape, index: int) -> tuple[Shape, int]:
        return shape, 0

    def build(self, shape: Shape) -> nn.Module:
        return SeededDropout(self.p)


class SeededDropout(nn.Dropout):
    """nn.Dropout drawing its mask from the run's own generator, so that concurrent runs in
    one process stay reproducible (the global RNG is shared by every thread)."""

    generator = None  # set by the trainer

    def forward(self, x):
        if not self.training or self.p == 0.0 or self.generator is None:
            return super().forward(x)
        keep = torch.empty_like(x).bernoulli_(1.0 - self.p, generator=self.generator)
        return x * keep / (1.0 - self.p)


class _SeqBatchNorm(nn.Module):
    """BatchNorm over the feature axis of a sequence: (B, T, F) -> (B, T, F)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(features)

    def forward(self, x):
        return self.bn(x.transpose(1, 2)).transpose(1, 2)


@LAYERS.register("batchnorm")
class BatchNorm(WeightedLayer):
    """Batch normalisation: 1-D over features, 2-D over image channels, or per feature of a sequence."""

    label: ClassVar[str] = "BatchNorm"
    category: ClassVar[str] = "regularization"
    type: Literal["batchnorm"] = "batchnorm"
    activation: str = "linear"

    def infer(self, shape: Shape, index: int) -> tuple[Shape, int]:
        return shape, 2 * (shape[0] if len(shape) != 2 else shape[1])

    def core(self, shape: Shape) -> nn.Module:
        if len(shape) == 3:
            return nn.BatchNorm2d(shape[0])
        if len(shape) == 2:
            return _SeqBatchNorm(shape[1])
        return nn.BatchNorm1d(shape[0])


class _Recurrent(nn.Module):
    """Runs a batch-first recurrent cell: (B, T, F) -> (B, T, H), or (B, H) for the last step."""

    def __init__(self, cell: nn.Module, return_sequences: bool) -> None:
        super().__init__()
        self.cell = cell
        self.return_sequences = return_sequences

    def forward(self, x):
        out, _ = self.cell(x)  # (B, T, H)
        return out if self.return_sequences else out[:, -1]


class _RecurrentLayer(WeightedLayer):
    category: ClassVar[str] = "recurrent"
    gates: ClassVar[int] = 1
    torch_cell: ClassVar[Any]
    activation: str = "linear"
    units: int = Field(16, ge=1, le=1024, description="hidden size")
    return_sequences: bool = Field(False, description="output every step (T, H) rather than the last (H,)")

    def infer(self, shape: Shape, index: int) -> tuple[Shape, int]:
        if len(shape) != 2:
            raise ShapeProblem(
                f"input is {fmt(shape)}; {self.type} needs a sequence (T, F). "  # type: ignore[attr-defined]
                "To use it, choose a sequence dataset, such as `sequences`, or stack it after a recurrent "
                "layer with return_sequences",
                _remove(index))
        t, f = shape
        h = self.units
        n = self.gates * (h * f + h * h + 2 * h)  # torch keeps two bias vectors per gate
        return ((t, h) if self.return_sequences else (h,)), n

    def core(self, shape: Shape) -> nn.Module:
        return _Recurrent(self.torch_cell(shape[1], self.units, batch_first=True), self.return_sequences)


@LAYERS.register("rnn")
class RNN(_RecurrentLayer):
    """Elman RNN with tanh inside."""

    label: ClassVar[str] = "RNN"
    type: Literal["rnn"] = "rnn"
    torch_cell: ClassVar[Any] = nn.RNN


@LAYERS.register("lstm")
class LSTM(_RecurrentLayer):
    """Long short-term memory."""

    label: ClassVar[str] = "LSTM"
    type: Literal["lstm"] = "lstm"
    gates: ClassVar[int] = 4
    torch_cell: ClassVar[Any] = nn.LSTM


@LAYERS.register("gru")
class GRU(_RecurrentLayer):
    """Gated recurrent unit."""

    label: ClassVar[str] = "GRU"
    type: Literal["gru"] = "gru"
    gates: ClassVar[int] = 3
    torch_cell: ClassVar[Any] = nn.GRU


def layer_union() -> Any:
    """The discriminated union of every registered layer model, keyed on `type`."""
    models = tuple(cls for _, cls in LAYERS.items())
    return Union[models]  # type: ignore[valid-type]

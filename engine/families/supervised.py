"""The supervised families: one stack of hidden layers, a Dense head, `loss(model(x), y)`.

Classification and regression are two entries of one class; forecasting (engine/families/
forecasting.py) subclasses it. What differs between them is data: the head's width, the loss,
whether labels are classes, and the constant guess that the diagnosis measures against.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Optional

import torch
from torch import nn

from ..data import DataInfo, Split, data_info
from ..diagnosis import diagnose
from ..events import Diagnosis
from ..insides import build_insides
from ..family import FAMILIES, ExportParts, Family, Metric, Stepper
from ..layers import Dense
from ..shapes import Summary
from ..spec import ExperimentSpec, LayersModel, ModelSpec
from ..stack import build_stack, dense_head, infer_stack
from .ensemble import EnsembleLoopStepper
from .fused_dense import ENGINE_AUTOGRAD, ENGINE_FUSED, FusedDenseStepper, fused_scope
from .fused_ensemble import FusedEnsembleStepper
from .supervised_step import SupervisedStepper

LOSS_METRICS = (
    Metric("train_loss", "Training loss", "loss", pair="val_loss"),
    Metric("val_loss", "Validation loss", "loss"),
)
ACC_METRICS = (
    Metric("train_acc", "Training accuracy", "acc", pair="val_acc", percent=True),
    Metric("val_acc", "Validation accuracy", "acc", percent=True),
)


class Supervised(Family):
    """One stack (`model.layers`), then a linear Dense head that the family sizes from the data."""

    metrics: ClassVar[tuple[Metric, ...]] = LOSS_METRICS + ACC_METRICS
    natural: ClassVar[str]  # the datasets' natural task that this family takes
    fused: ClassVar[bool] = True  # its stepper may be the fused dense one (engine/families/fused_dense.py)
    loss_code: ClassVar[str]  # the loss in the exported script
    no_ensemble: ClassVar[Optional[str]] = None  # training.seeds > 1: engine/families/ensemble.py

    def model_spec(self) -> type[ModelSpec]:
        return LayersModel

    def fits(self, data: DataInfo) -> Optional[str]:
        return None if data.task == self.natural else ""

    def head_units(self, data: DataInfo) -> int:
        """Width of the output head."""
        raise NotImplementedError

    def make_loss(self) -> nn.Module:
        """The training and validation loss (the l1/l2 penalty is added by the stepper)."""
        raise NotImplementedError

    def plan(self, spec: ExperimentSpec, data: DataInfo) -> Summary:
        stack = self.stacks[0]
        layers = stack.layers(spec.model)
        rows, shape = infer_stack(layers, data.input_shape, stack)
        if not layers:
            # [] is a linear model (docs/spec.md): an image (C, H, W) or sequence (T, F) input is
            # flattened into the head, (B, *shape) -> (B, prod(shape)); build() adds the nn.Flatten.
            shape = (math.prod(shape),)
        head, _ = dense_head(self.head_units(data), shape, layers, stack, "model.head")
        return Summary(data.input_shape, self.name, data.n_classes, rows + [head])

    def build(self, spec: ExperimentSpec, summary: Summary) -> nn.Sequential:
        """One child per layer (index i is model.layers[i]; the last child is the head)."""
        rows = summary.rows
        head = rows[-1]
        blocks = build_stack(self.stacks[0].layers(spec.model), rows[:-1])
        core = Dense(units=head.output_shape[0], activation="linear").core(head.input_shape)
        if not rows[:-1] and len(summary.input_shape) != 1:  # a linear model on images: flatten first
            core = nn.Sequential(nn.Flatten(), core)  # (B, C, H, W) -> (B, C*H*W) -> (B, units)
        blocks.append(core)
        return nn.Sequential(*blocks)

    def engine_path(self, spec: ExperimentSpec, summary: Summary, device: torch.device) -> tuple[str, str]:
        """The fused dense stepper where it is exact and wins (fused_scope), else autograd, and why."""
        if not self.fused:
            return ENGINE_AUTOGRAD, f"the {self.name} family trains on autograd"
        widths = [r.output_shape[0] for r in summary.rows if len(r.output_shape) == 1]
        why = fused_scope(spec, summary.input_shape, widths, device)
        seeds = spec.training.seeds
        if seeds > 1:  # say how the ensemble trains (engine/families/ensemble.py)
            return ((ENGINE_AUTOGRAD, f"{why}; the {seeds} seeds train one after another") if why else
                    (ENGINE_FUSED, f"a small dense stack: the exact fused path, {seeds} seeds in batched matmuls"))
        return (ENGINE_AUTOGRAD, why) if why else (ENGINE_FUSED, "a small dense stack: the exact fused path")

    def stepper(self, spec: ExperimentSpec, model: nn.Module, split: Split, device: torch.device) -> Stepper:
        t = spec.training
        engine, _ = self.engine_path(spec, self.plan(spec, data_info(spec.data)), device)
        if engine == ENGINE_FUSED and isinstance(model, nn.Sequential):
            return FusedDenseStepper(model, split, activations=[layer.activation for layer in spec.model.layers],
                                     optimizer=t.optimizer, lr=t.lr, l1=t.l1, l2=t.l2, loss=self.make_loss(),
                                     classes=self.target == "class")
        return SupervisedStepper(model, split, device, optimizer=t.optimizer, lr=t.lr, l1=t.l1, l2=t.l2,
                                 loss=self.make_loss(), classes=self.target == "class")

    def ensemble_stepper(self, spec: ExperimentSpec, members: list[nn.Module], split: Split,
                         device: torch.device) -> Stepper:
        """The K members in batched matmuls on the fused path, else each member's stepper in turn."""
        t = spec.training
        engine, _ = self.engine_path(spec, self.plan(spec, data_info(spec.data)), device)
        if engine == ENGINE_FUSED and all(isinstance(m, nn.Sequential) for m in members):
            return FusedEnsembleStepper(members, split, spread_names=self.spread_metrics(),  # type: ignore[arg-type]
                                        activations=[layer.activation for layer in spec.model.layers],
                                        optimizer=t.optimizer, lr=t.lr, l1=t.l1, l2=t.l2, loss=self.make_loss(),
                                        classes=self.target == "class")
        # Off the fused path, each member's own stepper (the family's: autograd, forecasting's naive column).
        return EnsembleLoopStepper([self.stepper(spec, m, split, device) for m in members], self.spread_metrics())

    def diagnose(self, history: dict[str, list], spec: ExperimentSpec, baseline: float,
                 status: Optional[str], best_epoch: Optional[int], insides: Optional[dict[str, Any]] = None,
                 stopped_early: bool = False) -> Diagnosis:
        return diagnose(history, spec, baseline, status=status, best_epoch=best_epoch, insides=insides,
                        stopped_early=stopped_early)

    def insides(self, spec: ExperimentSpec, model: Any, split: Any, stepper: Any) -> Any:
        """Per-layer statistics on a probe batch of the training split (one Sequential, one loss)."""
        if not isinstance(model, nn.Sequential):
            return None
        return build_insides(spec, model, stepper.x_train, stepper.y_train, stepper.loss_fn)

    def export(self, spec: ExperimentSpec, summary: Summary) -> ExportParts:
        from .supervised_export import supervised_parts
        return supervised_parts(self, spec, summary)


class Classification(Supervised):
    name = "classification"
    label = "Classification"
    description = "Softmax head with one unit per class; cross-entropy loss; accuracy."
    target = "class"
    head = "softmax"
    natural = "classification"
    loss_code = "nn.CrossEntropyLoss()"

    def head_units(self, data: DataInfo) -> int:
        return int(data.n_classes or 2)

    def make_loss(self) -> nn.Module:
        return nn.CrossEntropyLoss()

    def baseline(self, split: Split) -> float:
        """The class prior's entropy: what predicting the training frequencies scores."""
        p = torch.bincount(split.y_train).float() / len(split.y_train)
        p = p[p > 0]
        return float(-(p * p.log()).sum())


class Regression(Supervised):
    name = "regression"
    label = "Regression"
    description = "Linear head with one unit; mean squared error."
    natural = "regression"
    loss_code = "nn.MSELoss()"
    metrics: ClassVar[tuple[Metric, ...]] = LOSS_METRICS

    def columns(self) -> tuple[str, ...]:
        # The accuracy columns stay in the history (always null): runs saved before families existed hold them.
        return ("epoch", *(m.name for m in LOSS_METRICS + ACC_METRICS), "lr", "step_time")

    def head_units(self, data: DataInfo) -> int:
        return data.target_dim

    def make_loss(self) -> nn.Module:
        return nn.MSELoss()

    def baseline(self, split: Split) -> float:
        """The variance of y: what predicting its mean scores."""
        return float(split.y_train.float().var(unbiased=False))


FAMILIES.register(Classification.name, Classification())
FAMILIES.register(Regression.name, Regression())

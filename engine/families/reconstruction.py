"""Reconstruction: an autoencoder copies its input through a bottleneck of `latent_dim` codes.

The encoder is the user's layers then a linear Dense head of `latent_dim` units (the code); the
decoder is the user's layers, from the code, then a linear Dense head of the input's size, reshaped
to the input's shape. Each head is reported as a row, like a supervised head. An empty encoder on
an image is a linear encoder: the image is flattened into its head, as a linear model's is.

Training minimises the mean squared error between the reconstruction and the clean input. With
`training.denoise` = s > 0, the encoder sees x + N(0, s^2) and the target stays x (a denoising
autoencoder, Vincent et al., 2008); validation adds noise of the same s, drawn once, so its loss
is comparable across epochs, and `noisy_loss` is the identity's loss on it: the line to beat.
The labels are never trained on; they only colour the latent map.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import torch
from pydantic import Field
from torch import nn

from ..data import DataInfo, Split
from ..events import Diagnosis
from ..family import FAMILIES, ExportParts, Family, Metric, StackDef, Stepper
from ..layers import Dense
from ..shapes import LayerRow, Summary
from ..spec import ExperimentSpec, ModelSpec, Stack
from ..stack import build_stack, dense_head, infer_stack

ENCODER = StackDef("encoder", "Encoder layers", "encoder.layers")
DECODER = StackDef("decoder", "Decoder layers", "decoder.layers")

# The starter on the page and in the catalog: tests/engine/test_reconstruction.py holds it to
# halving its validation loss on digits.
DIGITS_AE: dict[str, Any] = {
    "task": "reconstruction", "data": {"dataset": "digits"},
    "model": {"latent_dim": 2,
              "encoder": {"layers": [{"type": "flatten"}, {"type": "dense", "units": 64, "activation": "relu"}]},
              "decoder": {"layers": [{"type": "dense", "units": 64, "activation": "relu"}]}},
    "training": {"optimizer": "adam", "lr": 0.005, "batch_size": 64, "epochs": 80}}
DIGITS_DAE: dict[str, Any] = {
    **DIGITS_AE, "model": {**DIGITS_AE["model"], "latent_dim": 16},
    "training": {**DIGITS_AE["training"], "denoise": 0.3}}


class AutoencoderModel(ModelSpec):
    """`model` of an autoencoder: the two stacks and the code's size (the heads are the family's)."""

    encoder: Stack = Field(..., description="the encoder's hidden layers, the input first; a Dense head of "
                           "latent_dim units follows")
    latent_dim: int = Field(2, ge=1, le=256, title="Latent dimensions",
                            description="units in the bottleneck: the code each input is squeezed into")
    decoder: Stack = Field(..., description="the decoder's hidden layers, the code first; a Dense head shaped "
                           "like the input follows")


class AutoencoderNet(nn.Module):
    """Encoder and decoder as one module, so the run saves, restores and exports both; calling it
    reconstructs: (B, *input_shape) -> (B, latent_dim) -> (B, *input_shape)."""

    def __init__(self, encoder: nn.Sequential, decoder: nn.Sequential) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def _head_core(row: LayerRow, shape: tuple[int, ...]) -> nn.Module:
    """The decoder's head: a Linear of the input's size, then back to the input's shape."""
    linear = Dense(units=math.prod(shape), activation="linear").core(row.input_shape)
    if len(shape) == 1:
        return linear
    return nn.Sequential(linear, nn.Unflatten(1, shape))  # (B, prod(shape)) -> (B, *shape)


class Reconstruction(Family):
    name = "reconstruction"
    no_ensemble = "an autoencoder's ensemble has no single code to draw; run the seeds one by one."
    label = "Reconstruction (autoencoder)"
    description = "An encoder squeezes each input into latent_dim codes, a decoder rebuilds it; mean squared error."
    stacks = (ENCODER, DECODER)
    target = "class"  # the labels only colour the latent map
    data_kinds = ("image", "2d", "table")
    training_fields = ("denoise",)
    metrics = (
        Metric("train_loss", "Training loss", "loss", pair="val_loss"),
        Metric("val_loss", "Validation loss", "loss"),
        Metric("noisy_loss", "Noisy input as it is (the identity)", "loss", baseline=True),
    )
    charts = {"loss": "Reconstruction loss (MSE)"}
    views = ("reconstructions", "latent_space", "latent_walk")
    presets = (
        {"name": "digits_autoencoder", "label": "Autoencoder: digits through 2 codes",
         "description": "An encoder squeezes each digit into 2 numbers and a decoder rebuilds it; watch the "
                        "classes part in the latent map.", "spec": DIGITS_AE},
        {"name": "digits_denoising", "label": "Denoising autoencoder on digits",
         "description": "Noise goes in, clean digits are the target: the reconstructions beat the noisy input.",
         "spec": DIGITS_DAE},
    )

    def model_spec(self) -> type[ModelSpec]:
        return AutoencoderModel

    def empty_model(self) -> dict[str, Any]:
        return {"encoder": {"layers": []}, "latent_dim": 2, "decoder": {"layers": []}}

    def fits(self, data: DataInfo) -> Optional[str]:
        if data.kind not in self.data_kinds:
            return "task 'reconstruction' copies images, 2-D points or table rows: choose digits, a 2-D dataset or a CSV"
        return None

    def plan(self, spec: ExperimentSpec, data: DataInfo) -> Summary:
        enc, dec = ENCODER.layers(spec.model), DECODER.layers(spec.model)
        e_rows, e_out = infer_stack(enc, data.input_shape, ENCODER)
        if not enc:  # a linear encoder: (B, *shape) -> (B, prod(shape)); build() adds the nn.Flatten
            e_out = (math.prod(e_out),)
        e_head, _ = dense_head(spec.model.latent_dim, e_out, enc, ENCODER, "model.encoder.head")
        d_rows, d_out = infer_stack(dec, (spec.model.latent_dim,), DECODER)
        d_head, _ = dense_head(math.prod(data.input_shape), d_out, dec, DECODER, "model.decoder.head")
        d_head.output_shape = tuple(data.input_shape)  # the head is reshaped to the input's shape
        return Summary(data.input_shape, self.name, data.n_classes, e_rows + [e_head] + d_rows + [d_head])

    def build(self, spec: ExperimentSpec, summary: Summary) -> AutoencoderNet:
        """Encoder then decoder, each one child per layer and its head last (the export's order)."""
        e_rows, d_rows = summary.stacks[ENCODER.name], summary.stacks[DECODER.name]
        enc = build_stack(ENCODER.layers(spec.model), e_rows[:-1])
        head = Dense(units=spec.model.latent_dim, activation="linear").core(e_rows[-1].input_shape)
        if not e_rows[:-1] and len(summary.input_shape) != 1:
            head = nn.Sequential(nn.Flatten(), head)  # (B, C, H, W) -> (B, C*H*W) -> (B, latent_dim)
        enc.append(head)
        dec = build_stack(DECODER.layers(spec.model), d_rows[:-1])
        dec.append(_head_core(d_rows[-1], tuple(summary.input_shape)))
        return AutoencoderNet(nn.Sequential(*enc), nn.Sequential(*dec))

    def stepper(self, spec: ExperimentSpec, model: nn.Module, split: Split, device: torch.device) -> Stepper:
        from .ae_step import AutoencoderStepper
        return AutoencoderStepper(model, split, device, spec)  # type: ignore[arg-type]

    def baseline(self, split: Split) -> float:
        """Predicting the mean input: the training inputs' variance, averaged over their features."""
        x = split.x_train.float()
        return float(((x - x.mean(dim=0, keepdim=True)) ** 2).mean())

    def insides(self, spec: ExperimentSpec, model: Any, split: Split, stepper: Any) -> Any:
        """The encoder's and the decoder's rows, both measured by the one objective: the clean probe
        inputs' reconstruction error (no training noise, so the record is the same at every cadence)."""
        from ..insides import Insides

        x = stepper.x_train[Insides.probe_rows(len(stepper.x_train)).to(stepper.x_train.device)]  # (P, *input)

        def probe() -> dict[str, torch.Tensor]:
            loss = torch.nn.functional.mse_loss(model(x), x)
            return {ENCODER.name: loss, DECODER.name: loss}

        return Insides.of_stacks(spec, model, self.stacks, probe)

    def diagnose(self, history: dict[str, list], spec: ExperimentSpec, baseline: float,
                 status: Optional[str], best_epoch: Optional[int], insides: Optional[dict[str, Any]] = None,
                 stopped_early: bool = False) -> Diagnosis:
        from .ae_diagnosis import diagnose_autoencoder
        return diagnose_autoencoder(history, spec, baseline, status, best_epoch, stopped_early)

    def export(self, spec: ExperimentSpec, summary: Summary) -> ExportParts:
        from .ae_export import autoencoder_parts
        return autoencoder_parts(spec, summary)


FAMILIES.register(Reconstruction.name, Reconstruction())

"""Generation: a GAN on 2-D data. A generator G maps latent noise z (latent_dim,) to points (2,);
a discriminator D maps points (2,) to one logit, "real" when high.

Each stack is the user's layers then a linear Dense head the family adds (G's of the data's width,
D's of one unit), reported as a row like a supervised head. The loss is the non-saturating one of
Goodfellow et al. (2014): D minimises softplus(-D(x)) + softplus(D(G(z))) (binary cross-entropy on
real = 1, fake = 0), and G minimises softplus(-D(G(z))) (-log sigmoid(D(G(z)))), which keeps G's
gradient alive while D rejects its points. training.loss 'wasserstein_gp' makes D a critic instead
(WGAN-GP; engine/families/gan_step.py has both losses).

There is no validation loss: the best epoch is the one with the lowest `distance` (the energy
distance, engine/families/gan_metrics.py), and early stopping is refused, because neither loss
falling means the generator is better (each is measured against the other network).
"""

from __future__ import annotations

from typing import Any, ClassVar, Optional

import torch
from pydantic import Field
from torch import nn

from ..data import DataInfo, Split, find
from ..errors import ErrorItem, SpecError
from ..events import Diagnosis
from ..family import FAMILIES, ExportParts, Family, Metric, StackDef, Stepper
from ..layers import Dense
from ..optimizers import LABELS as OPTIMIZER_LABELS
from ..optimizers import OPTIMIZERS
from ..shapes import Summary
from ..spec import ExperimentSpec, ModelSpec, Stack
from ..stack import build_stack, dense_head, infer_stack
from .gan_metrics import energy_distance
from .gan_step import GanStepper, is_wasserstein

GENERATOR = StackDef("generator", "Generator layers", "generator.layers")
DISCRIMINATOR = StackDef("discriminator", "Discriminator layers", "discriminator.layers")
NO_EARLY_STOPPING = ("A GAN has no validation loss: each network's loss is measured against the other, so "
                     "neither falling means better samples. The best epoch is the one with the lowest distance "
                     "between generated and real points instead.")

# Adam with beta1 = 0.5 (Radford et al., 2015): less momentum damps the two networks' oscillation.
OPTIMIZERS.register("adam_gan", lambda params, lr: torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999)))
OPTIMIZER_LABELS["adam_gan"] = "Adam, beta1 = 0.5 (GANs)"


class GanModel(ModelSpec):
    """`model` of a GAN: the latent size and the two stacks (heads are added by the family)."""

    latent_dim: int = Field(2, ge=1, le=64, title="Latent dimensions", description="size of the noise vector z that G maps to a point")
    generator: Stack = Field(..., description="G's hidden layers, z first; a linear head of the data's width follows")
    discriminator: Stack = Field(..., description="D's hidden layers, the point first; a one-logit head follows")
    minibatch_std: bool = Field(False, title="Minibatch std for D", description="minibatch-aware D: each point "
                                "comes with its batch's standard deviation, so D can see a collapsed batch")


class MinibatchStd(nn.Module):
    """(B, F) -> (B, F + 1): each row with the batch's standard deviation, averaged over the F
    features (Karras et al., 2018). A batch of collapsed fakes has a tiny one, real points do not,
    so D can reject collapse itself. `value`, when set, replaces the batch's (the heatmap view sets
    the real data's, to ask D about single points as they would look in a real batch)."""

    def __init__(self) -> None:
        super().__init__()
        self.value: Optional[float] = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.value is not None:
            s = torch.full((len(x), 1), self.value, dtype=x.dtype, device=x.device)
        else:
            s = x.std(dim=0, unbiased=False).mean().expand(len(x), 1)  # (B, 1)
        return torch.cat([x, s], dim=1)


class GanNet(nn.Module):
    """G and D as one module, so the run saves, restores and exports both; calling it runs G."""

    def __init__(self, generator: nn.Sequential, discriminator: nn.Sequential) -> None:
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)  # (N, latent_dim) -> (N, 2)


def critic_problems(spec: ExperimentSpec, d_layers: list) -> list[ErrorItem]:
    """What a wasserstein_gp critic cannot have: anything that makes a point's score depend on the rest
    of its batch, since the gradient penalty asks for the gradient of each score at its own point."""
    why = ("the 'wasserstein_gp' loss penalises the gradient of each critic score at its own point, so a "
           "score must not depend on the rest of the batch")
    out = [ErrorItem(f"model.discriminator.layers[{i}]",
                     f"model.discriminator.layers[{i}] (batchnorm): {why}, and batchnorm mixes the batch. "
                     "Remove this layer (dropout regularises a critic instead), or set training.loss to 'standard'.",
                     {"op": "remove", "index": i, "label": "Remove this layer"})
           for i, layer in enumerate(d_layers) if layer.type == "batchnorm"]
    if spec.model.minibatch_std:
        out.append(ErrorItem("model.minibatch_std", f"model.minibatch_std: {why}, and the minibatch std gives every "
                             "point its batch's spread. Turn it off, or set training.loss to 'standard'."))
    return out


def data_modes(spec: ExperimentSpec) -> Optional[tuple[torch.Tensor, float]]:
    """(centres (K, 2), sigma) of the spec's data when it has modes (ring, grid), else None."""
    ds = find(spec.data.dataset)
    if not hasattr(ds, "modes"):
        return None
    centres, sigma = ds.modes()
    return torch.as_tensor(centres, dtype=torch.float32), float(sigma)


class Generation(Family):
    name = "generation"
    label = "Generation (GAN)"
    description = ("A generator against a discriminator on 2-D points; the non-saturating loss or WGAN-GP; "
                   "energy distance.")
    stacks = (GENERATOR, DISCRIMINATOR)
    target = "class"  # the labels (which Gaussian a point came from) only colour the page
    data_kinds = ("2d",)
    monitor = "distance"
    no_early_stopping = NO_EARLY_STOPPING
    no_ensemble = ("its two networks train against each other, so K seeds would be K separate games, "
                   "not one model's spread; run the seeds one by one.")
    training_fields = ("d_lr", "d_steps", "loss")
    metrics = (
        Metric("g_loss", "Generator loss", "gan_loss"),
        Metric("d_loss", "Discriminator loss", "gan_loss"),
        Metric("d_real", "D on real points", "d_out", percent=True),
        Metric("d_fake", "D on generated points", "d_out", percent=True),
        Metric("w_distance", "Critic's distance estimate", "critic"),
        Metric("distance", "Energy distance", "distance"),
        Metric("modes_covered", "Modes covered", "modes"),
    )
    charts = {"gan_loss": "Generator and discriminator loss", "d_out": "Discriminator output",
              "critic": "Critic's Wasserstein estimate", "distance": "Distance to the data", "modes": "Modes covered"}
    views = ("gan_samples", "mode_coverage")

    def model_spec(self) -> type[ModelSpec]:
        return GanModel

    def fits(self, data: DataInfo) -> Optional[str]:
        if data.kind != "2d" or data.input_shape != (2,):
            return "task 'generation' learns 2-D points: choose ring, grid, moons or spiral"
        return None

    def plan(self, spec: ExperimentSpec, data: DataInfo) -> Summary:
        g_layers, d_layers = GENERATOR.layers(spec.model), DISCRIMINATOR.layers(spec.model)
        if is_wasserstein(spec):
            problems = critic_problems(spec, d_layers)
            if problems:
                raise SpecError(problems)
        g_rows, g_out = infer_stack(g_layers, (spec.model.latent_dim,), GENERATOR)
        g_head, _ = dense_head(data.input_shape[0], g_out, g_layers, GENERATOR, "model.generator.head")
        d_in = (data.input_shape[0] + 1,) if spec.model.minibatch_std else data.input_shape
        d_rows, d_out = infer_stack(d_layers, d_in, DISCRIMINATOR)
        d_head, _ = dense_head(1, d_out, d_layers, DISCRIMINATOR, "model.discriminator.head")
        return Summary(data.input_shape, self.name, None, g_rows + [g_head] + d_rows + [d_head])

    def build(self, spec: ExperimentSpec, summary: Summary) -> GanNet:
        """G then D, each one child per layer and its head last (the export builds in this order);
        with minibatch_std, D's child 0 is the MinibatchStd that feeds its layers."""
        nets = []
        for stack in (GENERATOR, DISCRIMINATOR):
            rows = summary.stacks[stack.name]
            blocks = build_stack(stack.layers(spec.model), rows[:-1])
            if stack is DISCRIMINATOR and spec.model.minibatch_std:
                blocks.insert(0, MinibatchStd())
            blocks.append(Dense(units=rows[-1].output_shape[0], activation="linear").core(rows[-1].input_shape))
            nets.append(nn.Sequential(*blocks))
        return GanNet(*nets)

    def stepper(self, spec: ExperimentSpec, model: nn.Module, split: Split, device: torch.device) -> Stepper:
        return GanStepper(model, split, device, spec, data_modes(spec))  # type: ignore[arg-type]

    def baseline(self, split: Split) -> float:
        """The distance of learning nothing: every generated point at the training mean."""
        mean = split.x_train.float().mean(dim=0, keepdim=True)  # (1, 2)
        return energy_distance(split.x_val.float(), mean)

    def insides(self, spec: ExperimentSpec, model: Any, split: Split, stepper: Any) -> Any:
        """G's and D's rows: G's gradients of its loss (-log D(G(z)), or -D(G(z)) for a critic) on fixed
        probe latents, D's of its loss on the probe batch of real points and those fakes (D's outputs
        are measured on the real points: its last forward)."""
        from ..insides import Insides
        from .gan_step import d_loss_of, fixed_latents, g_loss_of

        g, d = model.generator, model.discriminator
        x = stepper.x_train[Insides.probe_rows(len(stepper.x_train)).to(stepper.x_train.device)]  # (P, 2)
        z = fixed_latents(spec.training.seed + 1, spec.model.latent_dim, len(x)).to(x.device)  # (P, latent)
        critic = is_wasserstein(spec)

        def probe() -> dict[str, torch.Tensor]:
            fake = g(z)  # (P, 2)
            g_loss = g_loss_of(d(fake), critic)
            fake_out = d(fake.detach())
            d_loss = d_loss_of(d(x), fake_out, critic)  # D's last forward is on the real points; no penalty
            return {GENERATOR.name: g_loss, DISCRIMINATOR.name: d_loss}

        return Insides.of_stacks(spec, model, self.stacks, probe)

    def diagnose(self, history: dict[str, list], spec: ExperimentSpec, baseline: float,
                 status: Optional[str], best_epoch: Optional[int], insides: Optional[dict[str, Any]] = None,
                 stopped_early: bool = False) -> Diagnosis:
        from .gan_diagnosis import diagnose_gan
        modes = data_modes(spec)
        return diagnose_gan(history, spec, baseline, status, best_epoch, None if modes is None else len(modes[0]))

    def export(self, spec: ExperimentSpec, summary: Summary) -> ExportParts:
        from .gan_export import gan_parts
        return gan_parts(spec, summary)


FAMILIES.register(Generation.name, Generation())

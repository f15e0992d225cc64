"""What the page needs to build its forms without hard-coding: every registry, with schemas,
defaults and presets. Built once per process from the registries."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from . import __version__
from .activations import ACTIVATIONS
from .activations import LABELS as ACTIVATION_LABELS
from .data import DATASETS
from .family import FAMILIES
from .layers import LAYERS, WeightedLayer
from .lessons import LESSONS
from .optimizers import LABELS as OPTIMIZER_LABELS
from .optimizers import OPTIMIZERS
from .spec import CosineSchedule, DataSpec, ExponentialSchedule, Limits, NoSchedule, StepSchedule, TrainingSpec
from .viewkinds import VIEWS  # noqa: F401  (registers the built-in views)
from .views import views_of

# The GAN preset: tests/engine/test_generation.py holds it to covering >= 6 of the ring's 8 modes.
GAN_RING: dict[str, Any] = {
    "task": "generation", "data": {"dataset": "ring", "n_samples": 2000},
    "model": {"latent_dim": 8, "minibatch_std": True,
              "generator": {"layers": [{"type": "dense", "units": 128, "activation": "relu"}] * 2},
              "discriminator": {"layers": [{"type": "dense", "units": 128, "activation": "relu"}] * 2}},
    "training": {"optimizer": "adam_gan", "lr": 0.001, "batch_size": 128, "epochs": 100}}

# The ring with a critic (WGAN-GP): no minibatch std (a critic refuses it), 5 critic steps a G step.
GAN_RING_WGAN: dict[str, Any] = {
    **GAN_RING, "model": {**GAN_RING["model"], "minibatch_std": False},
    "training": {**GAN_RING["training"], "loss": "wasserstein_gp", "lr": 0.0005, "d_lr": 0.002, "d_steps": 5,
                 "epochs": 40}}

PRESETS: list[dict[str, Any]] = [
    {"name": "spiral", "label": "Spiral, two hidden layers",
     "description": "The default: trains well on the first press of Train.",
     "spec": {"data": {"dataset": "spiral", "n_samples": 400, "noise": 0.1},
              "model": {"layers": [{"type": "dense", "units": 16, "activation": "relu"},
                                   {"type": "dense", "units": 16, "activation": "relu"}]},
              "training": {"epochs": 300, "lr": 0.01, "batch_size": 32}}},
    {"name": "linear_circle", "label": "Underfitting: linear model on a circle",
     "description": "No hidden layers cannot bend the boundary.",
     "spec": {"data": {"dataset": "circle"}, "model": {"layers": []}, "training": {"epochs": 100}}},
    {"name": "overfit_spiral", "label": "Overfitting: big net, 60 noisy points",
     "description": "Three layers of 128 memorise a small noisy spiral.",
     "spec": {"data": {"dataset": "spiral", "n_samples": 60, "noise": 0.3},
              "model": {"layers": [{"type": "dense", "units": 128, "activation": "relu"}] * 3},
              "training": {"epochs": 300}}},
    {"name": "sine", "label": "Regression: noisy sine",
     "description": "Fit a curve through 60 noisy points.",
     "spec": {"data": {"dataset": "sine", "n_samples": 60, "noise": 0.2},
              "model": {"layers": [{"type": "dense", "units": 32, "activation": "tanh"},
                                   {"type": "dense", "units": 32, "activation": "tanh"}]},
              "training": {"epochs": 300}}},
    {"name": "digits_cnn", "label": "CNN on 8x8 digits",
     "description": "Convolution, pooling, flatten, dense.",
     "spec": {"data": {"dataset": "digits"},
              "model": {"layers": [{"type": "conv2d", "filters": 8, "kernel_size": 3, "activation": "relu"},
                                   {"type": "maxpool2d", "kernel_size": 2},
                                   {"type": "flatten"},
                                   {"type": "dense", "units": 32, "activation": "relu"}]},
              "training": {"epochs": 30, "batch_size": 64, "lr": 0.005}}},
    {"name": "lstm_sequences", "label": "Forecasting: LSTM on sequences",
     "description": "An LSTM reads 30 steps of a noisy sum of sines and forecasts the next; watch it beat the naive forecast.",
     "spec": {"data": {"dataset": "sequences", "n_samples": 800},
              "model": {"layers": [{"type": "lstm", "units": 16}]},
              "training": {"epochs": 30, "batch_size": 32, "lr": 0.01}}},
    {"name": "gan_ring", "label": "GAN on a ring of 8 Gaussians",
     "description": "A generator learns to draw the ring against a discriminator; watch the modes fill in.",
     "spec": GAN_RING},
    {"name": "gan_ring_wgan", "label": "WGAN-GP: a critic on the ring",
     "description": "The ring with a critic that scores points, held smooth by a gradient penalty; its chart is "
                    "the critic's estimate of the distance to the data.",
     "spec": GAN_RING_WGAN},
]


def _layer_entry(name: str, cls: Any) -> dict[str, Any]:
    schema = cls.model_json_schema()
    props = {k: v for k, v in schema.get("properties", {}).items() if k != "type"}
    defaults = {k: v.get("default") for k, v in props.items() if "default" in v}
    return {"type": name, "label": cls.label, "category": cls.category,
            "has_activation": issubclass(cls, WeightedLayer), "doc": (cls.__doc__ or "").strip(),
            "params": props, "defaults": {"type": name, **defaults}}


def _views(task: str) -> list[dict[str, Any]]:
    """The views a task can feed; the page shows those whose data kinds include the dataset's."""
    return [{"kind": v.kind, "title": v.title, "data_kinds": list(v.data_kinds)} for v in views_of(task)]


def _options(family: Any) -> list[dict[str, Any]]:
    """A family's `model` fields besides its stacks (latent_dim, ...): name, JSON schema, default."""
    roots = {s.path.split(".")[0] for s in family.stacks}
    props = family.model_spec().model_json_schema().get("properties", {})
    return [{"name": k, "schema": v, "default": v.get("default")} for k, v in props.items() if k not in roots]


def _training_fields(family: Any) -> list[dict[str, Any]]:
    """The family-only training fields it reads (d_lr, ...), with their JSON schemas."""
    props = TrainingSpec.model_json_schema().get("properties", {})
    return [{"name": k, "schema": props[k]} for k in family.training_fields]


@lru_cache(maxsize=1)
def _layers() -> list[dict[str, Any]]:
    return [_layer_entry(n, c) for n, c in LAYERS.items()]


def _default_data(name: str) -> DataSpec:
    return DataSpec(dataset=name)


def catalog() -> dict[str, Any]:
    """The catalog served at /api/catalog. Built on each call: a family or dataset registered after
    import (a plug-in, a test's own) must appear in it."""
    return {
        "version": __version__,
        "layers": _layers(),
        "activations": [{"name": n, "label": ACTIVATION_LABELS.get(n, n)} for n in ACTIVATIONS.names()],
        "datasets": [{"name": n, "label": d.label, "task": d.task, "kind": d.kind,
                      "tasks": [f for f, fam in FAMILIES.items() if fam.fits(d.info(_default_data(n))) is None],
                      "input_shape": list(d.input_shape), "n_classes": d.n_classes, "params": list(d.params),
                      "default_samples": d.default_samples, "max_samples": d.max_samples,
                      "description": d.description} for n, d in DATASETS.items()],
        "optimizers": [{"name": n, "label": OPTIMIZER_LABELS.get(n, n)} for n in OPTIMIZERS.names()],
        # Each task (family): its stacks, metric columns (label, chart group, train/val pair), monitor,
        # and the views the view registry has for it (engine/views.py decides; Family.views is not read).
        "tasks": [{**fam.catalog_entry(), "views": _views(n), "options": _options(fam),
                   "training_fields": _training_fields(fam)} for n, fam in FAMILIES.items()],
        "lr_schedules": [s().model_dump() for s in (NoSchedule, StepSchedule, ExponentialSchedule, CosineSchedule)],
        "defaults": {"data": {k: f.default for k, f in DataSpec.model_fields.items() if k != "dataset"},
                     "training": TrainingSpec().model_dump(mode="json")},
        "presets": PRESETS + [p for _, fam in FAMILIES.items() for p in fam.presets],
        "lessons": sorted((lesson.public() for _, lesson in LESSONS.items()), key=lambda x: x["number"]),
        "limits": Limits().model_dump(),
    }

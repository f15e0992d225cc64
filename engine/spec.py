"""The experiment spec: the public format that the page, share links, export and the CLI share.

Typed data, never code. Every field but `data.dataset` and the model's stacks has a default.
`parse_spec` turns untrusted JSON into an `ExperimentSpec` or raises `SpecError`
whose items name JSON paths such as `model.layers[2].units` (or `model.encoder.layers[1]`
for a family with named stacks: the family's own ModelSpec decides the shape of `model`).
"""

from __future__ import annotations

import copy
import json
import math
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (BaseModel, ConfigDict, Field, ModelWrapValidatorHandler, SerializeAsAny, TypeAdapter,
                      SerializerFunctionWrapHandler, StringConstraints, ValidationError, ValidationInfo,
                      field_validator, model_serializer, model_validator)

from .data import DATASETS, OPTIONAL_FIELDS, SOURCE_FIELDS, data_info, find
from .data import check as check_dataset
from .errors import ErrorItem, SpecError
from .family import FAMILIES
from .layers import LAYERS, layer_union
from .optimizers import OPTIMIZERS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataSpec(_Strict):
    """Which data, how much, and how it is split."""

    dataset: str = Field(..., description="a registered dataset name, e.g. 'spiral' or 'digits'")
    n_samples: Optional[int] = Field(None, ge=10, description="points to generate; default: the dataset's own")
    noise: float = Field(0.2, ge=0.0, le=5.0, description="Gaussian jitter (see docs/spec.md)")
    val_fraction: float = Field(0.3, ge=0.05, le=0.9, description="share held out for validation")
    train_fraction: float = Field(1.0, gt=0.0, le=1.0, description="share of the training split used: the 'more data' remedy")
    seed: int = Field(7, ge=0, le=2**31 - 1, description="seeds generation and the split")
    # Supplied data only (dataset 'csv'); see docs/protocol.md, "Bring your own data".
    upload: Optional[str] = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", validate_default=True,
                                  description="the id of an upload in the same session")
    features: Optional[list[Annotated[str, StringConstraints(min_length=1, max_length=100)]]] = Field(
        None, min_length=1, max_length=256, validate_default=True, description="the upload's feature columns")
    target: Optional[str] = Field(None, min_length=1, max_length=100, validate_default=True,
                                  description="the upload's target column")
    n_classes: Optional[int] = Field(None, ge=2, le=100, validate_default=True,
                                     description="classes in the target column (classification); the server checks it")
    # Sequence data only (dataset 'sequences', 'square'); see docs/spec.md.
    window: Optional[int] = Field(None, ge=2, le=200, validate_default=True,
                                  description="time steps in one input window (T); default 30")
    horizon: Optional[int] = Field(None, ge=1, le=50, validate_default=True,
                                   description="values to forecast after each window (H); default 1")

    @field_validator("dataset")
    @classmethod
    def _known(cls, v: str) -> str:
        return check_dataset(v)

    @field_validator(*OPTIONAL_FIELDS)
    @classmethod
    def _fits_dataset(cls, v: Any, info: ValidationInfo) -> Any:
        name = info.data.get("dataset")
        if name is None:
            return v  # the dataset itself is invalid and reported there
        ds = find(name)
        if v is not None and info.field_name not in ds.fields:
            who = "uploaded data" if info.field_name in SOURCE_FIELDS else "sequence data"
            raise ValueError(f"dataset {name!r} takes no {info.field_name}; only {who} does")
        if v is None and info.field_name in ds.required:
            raise ValueError(f"dataset {name!r} needs {info.field_name}")
        return v

    @model_serializer(mode="wrap")
    def _drop_unused(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A dataset's spec reads as it did before uploads and sequences existed: no null optional fields.
        out = handler(self)
        return {k: v for k, v in out.items() if not (k in OPTIONAL_FIELDS and v is None)}


LayerSpec = Annotated[layer_union(), Field(discriminator="type")]


class ModelSpec(_Strict):
    """Base of every family's `model`: the family's subclass names its stacks and options."""


class LayersModel(ModelSpec):
    """One hidden stack (the supervised families). The output head is added from the task and the data."""

    layers: list[LayerSpec] = Field(..., description="hidden layers, input first; [] is a linear model")


class Stack(_Strict):
    """A named stack of a multi-stack family: `model.<name>.layers`."""

    layers: list[LayerSpec] = Field(..., description="layers, input first")


class EarlyStopping(_Strict):
    """Keras semantics: monitor val_loss, stop after `patience` epochs without an improvement > min_delta."""

    patience: int = Field(20, ge=1, le=10_000)
    min_delta: float = Field(0.0, ge=0.0)
    restore_best: bool = Field(True, description="end with the weights of the best epoch")


class NoSchedule(_Strict):
    type: Literal["none"] = "none"


class StepSchedule(_Strict):
    """Multiply the lr by gamma every step_size epochs."""

    type: Literal["step"] = "step"
    step_size: int = Field(50, ge=1)
    gamma: float = Field(0.5, gt=0.0, le=1.0)


class ExponentialSchedule(_Strict):
    """Multiply the lr by gamma every epoch."""

    type: Literal["exponential"] = "exponential"
    gamma: float = Field(0.99, gt=0.0, le=1.0)


class CosineSchedule(_Strict):
    """Cosine decay from lr to min_lr over the run's epochs."""

    type: Literal["cosine"] = "cosine"
    min_lr: float = Field(0.0, ge=0.0)


LRSchedule = Annotated[Union[NoSchedule, StepSchedule, ExponentialSchedule, CosineSchedule],
                       Field(discriminator="type")]


# TrainingSpec fields that only the families listing them in Family.training_fields accept.
FAMILY_TRAINING_FIELDS = ("d_lr", "d_steps", "loss", "denoise")
MAX_SEEDS = 16  # members of an ensemble (training.seeds)


class TrainingSpec(_Strict):
    """Hyperparameters. The reported loss excludes the l1/l2 penalty."""

    optimizer: str = Field("adam", description="a registered optimizer name")
    lr: float = Field(0.01, gt=0.0, le=1e9)
    batch_size: int = Field(32, ge=1, le=65_536)
    epochs: int = Field(200, ge=1)
    l1: float = Field(0.0, ge=0.0, description="weight of sum(|w|) over weight matrices and kernels")
    l2: float = Field(0.0, ge=0.0, description="weight of sum(w^2) over weight matrices and kernels")
    early_stopping: Optional[EarlyStopping] = Field(None, description="null: off")
    lr_schedule: LRSchedule = Field(default_factory=NoSchedule)
    seed: int = Field(0, ge=0, le=2**31 - 1, description="seeds initialisation, shuffling and dropout")
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    seeds: int = Field(1, ge=1, le=MAX_SEEDS, title="Seeds (ensemble)",
                       description="train this many copies that differ only in the init seed (member k: seed + k), "
                                   "with the same batch order and dropout masks; the history is their mean and sd")
    # Fields only some families read (Family.training_fields); null means "not set" and is not written out.
    d_lr: Optional[float] = Field(None, gt=0.0, le=1e9, title="D learning rate", description="generation: the discriminator's lr; default lr")
    d_steps: Optional[int] = Field(None, ge=1, le=20, title="D steps per G step", description="generation: D updates per G update; default 1")
    loss: Optional[Literal["standard", "wasserstein_gp"]] = Field(
        None, title="GAN loss", description="generation: 'standard' (the non-saturating loss; the default) or "
        "'wasserstein_gp' (D is a critic that scores points, with a gradient penalty of weight 10)")
    denoise: Optional[float] = Field(None, ge=0.0, le=1.0, title="Denoise (noise std)", description="reconstruction: "
                                     "the std of the Gaussian noise added to the input; the target stays clean; default 0")

    @field_validator("optimizer")
    @classmethod
    def _known(cls, v: str) -> str:
        return OPTIMIZERS.check(v)

    @model_serializer(mode="wrap")
    def _drop_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A spec reads as it did before family-only fields existed: none of them while null.
        out = handler(self)
        # ... and none of `seeds` while it is 1: a single run's spec, link and export read as before.
        return {k: v for k, v in out.items()
                if not (k in FAMILY_TRAINING_FIELDS and v is None) and not (k == "seeds" and v == 1)}


class ExperimentSpec(_Strict):
    """A whole experiment: task, data, model and training."""

    task: Optional[str] = Field(None, description="default: the dataset's natural task")
    data: DataSpec
    model: SerializeAsAny[ModelSpec] = Field(..., description="the family's stacks, e.g. {'layers': [...]}")
    training: TrainingSpec = Field(default_factory=TrainingSpec)

    @model_validator(mode="wrap")
    @classmethod
    def _family_model(cls, raw: Any, handler: ModelWrapValidatorHandler["ExperimentSpec"]) -> "ExperimentSpec":
        # `model` is validated against the family's own ModelSpec, so that its errors name the
        # family's paths (model.layers[2].units, model.encoder.layers[1]); the rest as usual.
        if not isinstance(raw, dict) or isinstance(raw.get("model"), ModelSpec) or "model" not in raw:
            return handler(raw)
        items: list[ErrorItem] = []
        try:
            model = _model_class(raw).model_validate(raw["model"])
        except ValidationError as e:
            items = [ErrorItem(f"model.{i.path}" if i.path != "$" else "model", i.message)
                     for i in errors_from_validation(e).errors]
            model = ModelSpec()
        try:
            spec = handler({**raw, "model": model})
        except ValidationError as e:
            raise SpecError(errors_from_validation(e).errors + items) from None
        if items:
            raise SpecError(items)
        return spec

    @model_validator(mode="after")
    def _task_fits_data(self) -> "ExperimentSpec":
        info = data_info(self.data)
        natural = info.task
        if self.task is None:
            self.task = natural
        FAMILIES.check(self.task)
        family = FAMILIES.get(self.task)
        problem = family.fits(info)
        if problem is not None:  # "": the data's natural task is another; the dataset says why
            raise ValueError(problem or find(self.data.dataset).task_problem(self.data, self.task, natural))
        if not isinstance(self.model, family.model_spec()):
            raise ValueError(f"task {self.task!r} takes a model of {family.model_spec().__name__}")
        refused = family.early_stopping_refused()
        if refused is not None and self.training.early_stopping is not None:
            raise ValueError(f"task {self.task!r} does not stop early: {refused} "
                             "Set training.early_stopping to null")
        for name in FAMILY_TRAINING_FIELDS:
            if getattr(self.training, name) is not None and name not in family.training_fields:
                raise ValueError(f"training.{name}: task {self.task!r} takes no {name}; only tasks "
                                 f"{', '.join(n for n, f in FAMILIES.items() if name in f.training_fields)} do")
        no_ensemble = family.ensemble_refused()
        if no_ensemble is not None and self.training.seeds > 1:
            # Raised as a SpecError, not a ValueError, so that the 422 names the field, not the spec.
            raise SpecError([ErrorItem("training.seeds", f"task {self.task!r} trains no ensembles: {no_ensemble} "
                                       "Set training.seeds to 1")])
        return self

    def stacks(self) -> dict[str, list]:
        """The family's stacks by name, each a list of layer specs."""
        return {s.name: s.layers(self.model) for s in FAMILIES.get(self.task).stacks}

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Limits(_Strict):
    """Caps on what one spec may ask for. The server fills these from its settings."""

    max_params: int = 5_000_000
    max_epochs: int = 5_000
    max_samples: int = 20_000
    max_layers: int = 64
    max_spec_bytes: int = 65_536
    # Estimated activation memory of one training batch (forward and backward), in MiB.
    max_activation_mib: int = 512


def _model_class(raw: dict[str, Any]) -> type[ModelSpec]:
    """The ModelSpec that `raw`'s task (or its dataset's natural task) takes; the one-stack model when
    neither is known yet (the task's own error is reported where it is)."""
    task = raw.get("task")
    if not isinstance(task, str):
        data = raw.get("data")
        name = data.get("dataset") if isinstance(data, dict) else None
        task = find(name).task if isinstance(name, str) and name in DATASETS else None
    if isinstance(task, str) and task in FAMILIES:
        return FAMILIES.get(task).model_spec()
    return LayersModel


def empty_model(raw: dict[str, Any]) -> dict[str, Any]:
    """`model` with every stack empty for `raw`'s task (or its data's): what a data preview validates."""
    cls = _model_class(raw)
    family = next((f for _, f in FAMILIES.items() if f.model_spec() is cls), None)
    return family.empty_model() if family is not None else {"layers": []}


def json_path(loc: tuple[Any, ...]) -> str:
    """('model', 'layers', 2, 'dense', 'units') -> 'model.layers[2].units' (union tags dropped)."""
    out = ""
    prev_int = False
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            prev_int = True
            continue
        if prev_int and part in LAYERS:
            prev_int = False
            continue  # pydantic's discriminator tag, not a field
        if part in ("none", "step", "exponential", "cosine") and out.endswith("lr_schedule"):
            continue
        prev_int = False
        out += f".{part}" if out else str(part)
    return out or "$"


def _message(err: dict[str, Any]) -> str:
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if err["type"] == "union_tag_invalid":
        msg = f"unknown type {err['input'].get('type')!r}; valid: {', '.join(LAYERS.names())}" \
            if "layers" in err["loc"] else msg
    if err["type"] == "union_tag_not_found" and "layers" in err["loc"]:
        msg = f"a layer needs a 'type'; valid: {', '.join(LAYERS.names())}"
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    return msg


def errors_from_validation(exc: ValidationError) -> SpecError:
    """Turn pydantic's errors into SpecError items with JSON paths."""
    items = []
    for err in exc.errors(include_url=False):
        items.append(ErrorItem(json_path(tuple(err["loc"])), _message(err)))
    return SpecError(items)


def parse_spec(raw: Any, limits: Limits | None = None) -> ExperimentSpec:
    """Validate untrusted input (a dict or JSON text) into a spec, checking the caps; raises SpecError."""
    limits = limits or Limits()
    if isinstance(raw, (str, bytes)):
        if len(raw) > limits.max_spec_bytes:
            raise SpecError([ErrorItem("$", f"spec is larger than {limits.max_spec_bytes} bytes")])
        try:
            raw = json.loads(raw)
        except ValueError as e:
            raise SpecError([ErrorItem("$", f"not valid JSON: {e}")]) from None
    if not isinstance(raw, dict):
        raise SpecError([ErrorItem("$", "a spec must be a JSON object")])
    bad = [ErrorItem(json_path(loc), "must be a finite number (not NaN or infinity)") for loc in non_finite(raw)]
    if bad:
        raise SpecError(bad)
    try:
        spec = ExperimentSpec.model_validate(raw)
    except ValidationError as e:
        raise errors_from_validation(e) from None
    _check_caps(spec, limits)
    return spec


def non_finite(raw: Any) -> list[tuple[Any, ...]]:
    """Where `raw` (parsed JSON) holds NaN or ±inf, e.g. from `1e999`, which json.loads accepts.

    One check for every float field, plug-in layers' included: such a value would come back as
    null (or as non-standard `Infinity` in spec.json) and the returned spec would no longer save.
    Iterative, so a deeply nested body cannot exhaust the stack."""
    found: list[tuple[Any, ...]] = []
    todo: list[tuple[tuple[Any, ...], Any]] = [((), raw)]
    while todo:
        loc, value = todo.pop()
        if isinstance(value, float) and not math.isfinite(value):
            found.append(loc)
        elif isinstance(value, dict):
            todo.extend(((*loc, k), v) for k, v in value.items())
        elif isinstance(value, list):
            todo.extend(((*loc, i), v) for i, v in enumerate(value))
    return sorted(found, key=str)


def _check_caps(spec: ExperimentSpec, limits: Limits) -> None:
    items = []
    if spec.training.epochs > limits.max_epochs:
        items.append(ErrorItem("training.epochs", f"at most {limits.max_epochs} epochs are allowed"))
    if spec.data.n_samples is not None and spec.data.n_samples > limits.max_samples:
        items.append(ErrorItem("data.n_samples", f"at most {limits.max_samples} samples are allowed"))
    for stack in FAMILIES.get(spec.task).stacks:
        if len(stack.layers(spec.model)) > limits.max_layers:
            items.append(ErrorItem(f"model.{stack.path}", f"at most {limits.max_layers} layers are allowed"))
    if items:
        raise SpecError(items)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge, null deletes, anything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def apply_patch(spec: ExperimentSpec, patch: dict[str, Any], limits: Limits | None = None) -> ExperimentSpec:
    """A new spec with `patch` merged in and validated again."""
    return parse_spec(merge_patch(spec.to_json(), patch), limits)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the spec, served at /api/schema. `model` is any registered family's own
    model shape (`anyOf`), since ExperimentSpec only knows their common, empty base."""
    schema = ExperimentSpec.model_json_schema()
    classes = list(dict.fromkeys(f.model_spec() for _, f in FAMILIES.items()))
    models = TypeAdapter(Union[tuple(classes)]).json_schema(ref_template="#/$defs/{model}")  # type: ignore[arg-type]
    schema.setdefault("$defs", {}).update(models.pop("$defs", {}))
    description = schema["properties"]["model"].get("description")
    schema["properties"]["model"] = {**models, "description": description}
    schema["$defs"].pop("ModelSpec", None)
    return schema

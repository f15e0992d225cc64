"""Remedies: each is a JSON merge patch for the spec (lists are replaced whole), offered by a cause.

A function returns a Remedy, or None where it does not apply to this spec (no sigmoid to switch,
already on Adam, ...). `keep` drops those whose patched spec would not validate.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from .events import Remedy
from .spec import ExperimentSpec, Limits

# A remedy never asks for more than the default caps allow (a server may set them lower; `keep` checks).
MAX_EPOCHS_REMEDY = Limits().max_epochs
MAX_SAMPLES_REMEDY = Limits().max_samples
SIZED = {"dense": "units", "conv2d": "filters", "rnn": "units", "lstm": "units", "gru": "units"}
ADAPTIVE = ("adam", "adamw", "rmsprop", "adagrad")  # optimizers that scale each weight's step
SATURATING = ("sigmoid", "tanh")


def stack_layers(spec: ExperimentSpec) -> list[tuple[str, list[dict[str, Any]]]]:
    """(path, layer dicts) of each of the spec's family's stacks: [("layers", [...])] for a
    one-stack family, [("encoder.layers", [...]), ("decoder.layers", [...])] for an autoencoder."""
    from .family import FAMILIES

    model = spec.to_json()["model"]
    out = []
    for stack in FAMILIES.get(spec.task).stacks:
        node: Any = model
        for part in stack.path.split("."):
            node = node[part]
        out.append((stack.path, node))
    return out


def _layers(spec: ExperimentSpec) -> list[dict[str, Any]]:
    """Every stack's layers, in order (for rules that only read them)."""
    return [layer for _, layers in stack_layers(spec) for layer in layers]


def model_patch(edits: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """{"encoder.layers": [...]} -> {"model": {"encoder": {"layers": [...]}}} (a merge patch)."""
    patch: dict[str, Any] = {}
    for path, layers in edits.items():
        node = patch
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = layers
    return {"model": patch}


def _edit(spec: ExperimentSpec, fn: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> Optional[dict[str, Any]]:
    """`fn` applied to each stack's layers: the merge patch of the stacks it changed, or None."""
    edits = {}
    for path, layers in stack_layers(spec):
        out = fn(layers)
        if out != layers:
            edits[path] = out
    return model_patch(edits) if edits else None


def add_dropout(spec: ExperimentSpec) -> Optional[Remedy]:
    if not any(l["type"] in SIZED for l in _layers(spec)):
        return None
    raised = added = False

    def edit(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        nonlocal raised, added
        out: list[dict[str, Any]] = []
        for i, layer in enumerate(layers):
            if layer["type"] == "dropout":
                layer = {**layer, "p": round(min(0.5, layer["p"] + 0.1), 2)}
                raised = True
            out.append(layer)
            nxt = layers[i + 1]["type"] if i + 1 < len(layers) else None
            if layer["type"] in ("dense",) and nxt != "dropout":
                out.append({"type": "dropout", "p": 0.2})
                added = True
        return out

    patch = _edit(spec, edit)
    if patch is None:
        return None
    what = "raise dropout by 0.1" if raised and not added else "add dropout p=0.2 after each dense layer"
    return Remedy("add_dropout", "Add dropout", f"Randomly silencing units stops them co-adapting: {what}.", patch)


def add_l2(spec: ExperimentSpec) -> Remedy:
    l2 = spec.training.l2
    new = 1e-3 if l2 == 0 else min(1.0, l2 * 10)
    return Remedy("add_l2", f"L2 = {new:g}", "Penalising large weights gives a smoother function.",
                  {"training": {"l2": new}})


def early_stopping(spec: ExperimentSpec, n: int) -> Optional[Remedy]:
    if spec.training.early_stopping is not None:
        return None
    patience = max(10, n // 10)
    return Remedy("early_stopping", f"Early stopping (patience {patience})",
                  "Stop when validation loss stops improving and keep the best weights.",
                  {"training": {"early_stopping": {"patience": patience, "min_delta": 0.0, "restore_best": True}}})


def more_data(spec: ExperimentSpec) -> Optional[Remedy]:
    from .datasets import DATASETS

    d = spec.data
    if d.train_fraction < 1.0:
        return Remedy("more_data", "Use all the training data",
                      f"Only {d.train_fraction:.0%} of the training split is used.", {"data": {"train_fraction": 1.0}})
    if d.dataset not in DATASETS:
        return None  # supplied data (an upload): there is no more of it to generate
    ds = DATASETS.get(d.dataset)
    n = ds.sample_count(d)
    cap = min(ds.max_samples or MAX_SAMPLES_REMEDY, MAX_SAMPLES_REMEDY)
    if n >= cap:
        return None
    new = min(cap, n * 2)
    return Remedy("more_data", f"More data ({new} samples)", "More examples make memorising harder than learning.",
                  {"data": {"n_samples": new}})


def resize_model(spec: ExperimentSpec, factor: float) -> Optional[Remedy]:
    bigger = factor > 1
    if not _layers(spec) and bigger:
        two = [{"type": "dense", "units": 16, "activation": "relu"}, {"type": "dense", "units": 16, "activation": "relu"}]
        return Remedy("bigger_model", "Add two hidden layers", "A linear model cannot bend its boundary.",
                      model_patch({path: two for path, _ in stack_layers(spec)}))

    def edit(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for layer in layers:
            key = SIZED.get(layer["type"])
            if key:
                layer = {**layer, key: max(2, min(4096, int(round(layer[key] * factor))))}
            out.append(layer)
        return out

    patch = _edit(spec, edit)
    if patch is None:
        return None
    if bigger:
        return Remedy("bigger_model", "Bigger model (2x units)", "More capacity to fit the training data.", patch)
    return Remedy("smaller_model", "Smaller model (half the units)", "Less capacity leaves less room to memorise noise.",
                  patch)


def train_longer(spec: ExperimentSpec) -> Optional[Remedy]:
    e = spec.training.epochs
    if e >= MAX_EPOCHS_REMEDY:
        return None
    new = min(MAX_EPOCHS_REMEDY, e * 2)
    return Remedy("train_longer", f"Train longer ({new} epochs)", "The training loss is still falling.",
                  {"training": {"epochs": new}})


def lower_lr(spec: ExperimentSpec) -> Remedy:
    new = float(f"{spec.training.lr / 10:.3g}")
    return Remedy("lower_lr", f"Lower learning rate ({new:g})", "Smaller steps stop the updates overshooting.",
                  {"training": {"lr": new}})


def raise_lr(spec: ExperimentSpec) -> Remedy:
    new = float(f"{spec.training.lr * 10:.3g}")
    return Remedy("raise_lr", f"Raise learning rate ({new:g})", "The steps are too small to get anywhere in time.",
                  {"training": {"lr": new}})


def use_adam(spec: ExperimentSpec) -> Optional[Remedy]:
    if spec.training.optimizer in ADAPTIVE:
        return None
    return Remedy("use_adam", "Switch to Adam", "Adam adapts its step size per weight, so small and large "
                  "gradients both make progress.", {"training": {"optimizer": "adam", "lr": 0.01}})


def switch_activation(spec: ExperimentSpec, old: tuple[str, ...], new: str) -> Optional[Remedy]:
    """Every layer whose activation is in `old` gets `new`."""
    patch = _edit(spec, lambda layers: [{**l, "activation": new} if l.get("activation") in old else l for l in layers])
    if patch is None:
        return None
    if new == "relu":
        return Remedy("use_relu", "Switch to ReLU", "ReLU passes gradients back undiminished where it is "
                      "active; sigmoid and tanh shrink them at every layer.", patch)
    return Remedy("use_leaky_relu", "Switch to LeakyReLU", "A LeakyReLU unit still has a small gradient "
                  "when its input is negative, so a dead unit can come back.", patch)


def add_batchnorm(spec: ExperimentSpec) -> Optional[Remedy]:
    """A batchnorm after each dense or conv2d layer that has none."""
    def edit(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i, layer in enumerate(layers):
            out.append(layer)
            nxt = layers[i + 1]["type"] if i + 1 < len(layers) else None
            if layer["type"] in ("dense", "conv2d") and nxt != "batchnorm":
                out.append({"type": "batchnorm"})
        return out

    patch = _edit(spec, edit)
    if patch is None:
        return None
    return Remedy("add_batchnorm", "Add batchnorm", "Normalising each layer's output keeps activations and "
                  "gradients at a workable scale through a deep stack.", patch)


def less_regularization(spec: ExperimentSpec, l2_now: Optional[float] = None) -> Optional[Remedy]:
    """Halve l2 (the one in force, which a control may have raised) and l1, and lower each dropout
    by 0.2 (a dropout under 0.3 goes)."""
    t = spec.training
    l2 = t.l2 if l2_now is None else l2_now
    patch: dict[str, Any] = {}
    if l2 > 0:
        patch["training"] = {"l2": float(f"{l2 / 2:.3g}")}
    if t.l1 > 0:
        patch.setdefault("training", {})["l1"] = float(f"{t.l1 / 2:.3g}")
    def edit(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for l in layers:
            if l["type"] == "dropout" and l["p"] >= 0.3:
                l = {**l, "p": round(l["p"] - 0.2, 2)}
            elif l["type"] == "dropout" and l["p"] > 0:
                continue
            out.append(l)
        return out

    lighter = _edit(spec, edit)
    if lighter is not None:
        patch.update(lighter)
    if not patch:
        return None
    return Remedy("less_regularization", "Less regularization",
                  "Halve the L1/L2 penalty and lower the dropout: the penalty is holding the fit back.", patch)


def keep(spec: ExperimentSpec, *rs: Optional[Remedy]) -> list[Remedy]:
    """The remedies that apply and whose patched spec is still valid: doubling a large model's units
    can pass the parameter cap, and a button that only produces an error is no remedy."""
    from .errors import SpecError
    from .shapes import infer
    from .spec import apply_patch

    out = []
    for r in rs:
        if r is None:
            continue
        try:
            infer(apply_patch(spec, r.patch))
        except SpecError:
            continue
        out.append(r)
    return out



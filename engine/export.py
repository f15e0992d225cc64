"""Export a run as a standalone PyTorch script that needs only torch and numpy (and scikit-learn
for the datasets that use it).

The script is generated from the validated spec as data. Every value from the spec reaches it
through `lit` (repr of numbers, strings and containers), so no text of the user's can become
code; layer types, activations, optimizers, tasks and schedules can only be registered names,
and each maps to code written here. The script replays the reproducibility protocol of
engine/trainer.py: the same data code path, torch.manual_seed(seed) before building the model
child by child, a CPU generator seeded with seed for each epoch's randperm, and dropout masks
from a generator seeded with seed + 1. Its state_dict keys match the engine's, so a run's
safetensors load into it.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Optional

from . import __version__
from .datasets import find
from .export_code import DATA_CODE, HELPERS, SCHEDULE_CODE, lit
from .layers import LayerSpec, fmt
from .registry import Registry
from .shapes import Shape, head_layer, infer
from .spec import ExperimentSpec
from .tasks import TASKS


# -- what each registered name becomes ------------------------------------------------------------
ACTIVATION_CODE: Registry[str] = Registry("activation")
for _name, _code in {"relu": "nn.ReLU()", "leaky_relu": "nn.LeakyReLU(0.01)", "elu": "nn.ELU()",
                     "gelu": "nn.GELU()", "silu": "nn.SiLU()", "sigmoid": "nn.Sigmoid()", "tanh": "nn.Tanh()",
                     "softplus": "nn.Softplus()", "linear": "nn.Identity()"}.items():
    ACTIVATION_CODE.register(_name, _code)

OPTIMIZER_CODE: Registry[str] = Registry("optimizer")
for _name, _code in {"sgd": "torch.optim.SGD(params, lr=lr)",
                     "momentum": "torch.optim.SGD(params, lr=lr, momentum=0.9)",
                     "adam": "torch.optim.Adam(params, lr=lr)",
                     "adamw": "torch.optim.AdamW(params, lr=lr, weight_decay=0.0)",
                     "rmsprop": "torch.optim.RMSprop(params, lr=lr)",
                     "adagrad": "torch.optim.Adagrad(params, lr=lr)"}.items():
    OPTIMIZER_CODE.register(_name, _code)

LOSS_CODE: Registry[str] = Registry("task")
LOSS_CODE.register("classification", "nn.CrossEntropyLoss()")
LOSS_CODE.register("regression", "nn.MSELoss()")


class LayerCode:
    """How one layer type is written: its module expression for an input shape, and the helper
    classes that expression needs (a tuple, or a function of the input shape)."""

    def __init__(self, core: Callable[[Any, Shape], str],
                 helpers: tuple[str, ...] | Callable[[Shape], tuple[str, ...]] = ()) -> None:
        self.core = core
        self.helpers = helpers if callable(helpers) else (lambda shape: helpers)


LAYER_CODE: Registry[LayerCode] = Registry("layer type")


def _batchnorm(layer: Any, shape: Shape) -> str:
    if len(shape) == 3:
        return f"nn.BatchNorm2d({shape[0]})"
    if len(shape) == 2:
        return f"SeqBatchNorm({shape[1]})"
    return f"nn.BatchNorm1d({shape[0]})"


def _recurrent(cell: str) -> Callable[[Any, Shape], str]:
    return lambda layer, shape: (f"Recurrent(nn.{cell}({shape[1]}, {lit(layer.units)}, batch_first=True), "
                                 f"{lit(layer.return_sequences)})")


LAYER_CODE.register("dense", LayerCode(lambda layer, shape: f"nn.Linear({shape[0]}, {lit(layer.units)})"))
LAYER_CODE.register("conv2d", LayerCode(lambda layer, shape: (
    f"nn.Conv2d({shape[0]}, {lit(layer.filters)}, {lit(layer.kernel_size)}, {lit(layer.stride)}, {layer.padding_px()})")))
LAYER_CODE.register("maxpool2d", LayerCode(lambda layer, shape: (
    f"nn.MaxPool2d({lit(layer.kernel_size)}, {lit(layer.stride or layer.kernel_size)})")))
LAYER_CODE.register("avgpool2d", LayerCode(lambda layer, shape: (
    f"nn.AvgPool2d({lit(layer.kernel_size)}, {lit(layer.stride or layer.kernel_size)})")))
LAYER_CODE.register("flatten", LayerCode(lambda layer, shape: "nn.Flatten()"))
LAYER_CODE.register("dropout", LayerCode(lambda layer, shape: f"SeededDropout({lit(float(layer.p))})",
                                         ("SeededDropout",)))
LAYER_CODE.register("batchnorm", LayerCode(_batchnorm, lambda shape: ("SeqBatchNorm",) if len(shape) == 2 else ()))
LAYER_CODE.register("rnn", LayerCode(_recurrent("RNN"), ("Recurrent",)))
LAYER_CODE.register("lstm", LayerCode(_recurrent("LSTM"), ("Recurrent",)))
LAYER_CODE.register("gru", LayerCode(_recurrent("GRU"), ("Recurrent",)))


def _module(layer: LayerSpec, shape: Shape) -> str:
    """The engine's child for a layer: a weighted layer is Sequential(core, activation)."""
    core = LAYER_CODE.get(layer.type).core(layer, shape)  # type: ignore[attr-defined]
    activation = getattr(layer, "activation", None)
    if activation is None:
        return core
    return f"nn.Sequential({core}, {ACTIVATION_CODE.get(activation)})"


def model_code(spec: ExperimentSpec) -> tuple[str, list[str]]:
    """The body of build_model() and the helper classes it needs."""
    summary = infer(spec)
    lines, helpers = [], []
    for i, (layer, row) in enumerate(zip(spec.model.layers, summary.rows)):
        lines.append(f"        {_module(layer, row.input_shape)},  # model.layers[{i}]: {layer.type} "
                     f"{fmt(row.input_shape)} -> {fmt(row.output_shape)}")
        for h in LAYER_CODE.get(layer.type).helpers(row.input_shape):
            if h not in helpers:
                helpers.append(h)
    head = summary.rows[-1]
    units = head_layer(summary.task, summary.n_classes).units
    if not spec.model.layers and len(summary.input_shape) != 1:  # a linear model on images
        lines.append(f"        nn.Flatten(),  # {fmt(summary.input_shape)} -> {fmt(head.input_shape)}")
    lines.append(f"        nn.Linear({head.input_shape[0]}, {units}),  # the head {fmt(head.input_shape)} -> ({units},)")
    return "\n".join(lines), helpers


# -- the data -------------------------------------------------------------------------------------------
def data_code(spec: ExperimentSpec, supplied: Optional[Any]) -> tuple[str, str]:
    """(constants, generate() and its helpers) for the spec's data. `supplied` is an uploaded table's
    engine.csvdata.Selection, embedded as JSON (a string literal)."""
    d = spec.data
    ds = find(d.dataset)
    if supplied is not None:
        n = len(supplied.y)
        table = json.dumps({"x": supplied.x.tolist(), "y": supplied.y.tolist()}, allow_nan=False)
        consts = (f"FEATURES = {lit(list(d.features or []))}\nTARGET = {lit(d.target)}\n"
                  f"CLASSES = {lit(supplied.classes)}  # class index -> label in the upload\n"
                  f"_TABLE = json.loads({lit(table)})  # the chosen columns, as the server read them\n")
    else:
        n = ds.sample_count(d)
        consts = ""
    consts = (f"DATASET = {lit(d.dataset)}\nN_SAMPLES = {lit(n)}\nNOISE = {lit(float(d.noise))}\n"
              f"VAL_FRACTION = {lit(float(d.val_fraction))}\nTRAIN_FRACTION = {lit(float(d.train_fraction))}\n"
              f"DATA_SEED = {lit(d.seed)}\n" + consts)
    return consts, DATA_CODE.get(d.dataset)


# -- the script ----------------------------------------------------------------------------------------
def export_script(spec: ExperimentSpec, *, run_id: str = "", label: Optional[str] = None,
                  supplied: Optional[Any] = None) -> str:
    """The standalone training script of a validated spec (see the module docstring)."""
    t = spec.training
    task = TASKS.get(spec.task or "classification")
    consts, generate = data_code(spec, supplied)
    layers, helpers = model_code(spec)
    es = t.early_stopping
    y_code = ("torch.as_tensor(np.asarray(y), dtype=torch.long)" if task.has_accuracy else
              "torch.as_tensor(np.asarray(y, dtype=np.float64), dtype=torch.float32).reshape(-1, 1)")
    parts = [
        HEADER,
        f"RUN_ID = {lit(run_id)}\nLABEL = {lit(label)}\nLAYERLAB_VERSION = {lit(__version__)}\n"
        f"# The run's spec, for reference; everything below is written out from it.\n"
        f"SPEC = json.loads({lit(json.dumps(spec.to_json(), allow_nan=False))})\n",
        "\n# -- data " + "-" * 90 + "\n" + consts,
        f"TASK = {lit(spec.task)}\n",
        COMMON_DATA,
        generate,
        MAKE_SPLIT.replace("@Y@", y_code),
        "\n\n# -- model " + "-" * 89 + "\n",
        "".join(HELPERS[h] for h in helpers),
        "\n\ndef build_model():\n    \"\"\"One child per layer, then the head (the engine's order, so the same initial weights).\"\"\"\n"
        f"    return nn.Sequential(\n{layers}\n    )\n",
        "\n\n# -- training " + "-" * 86 + "\n",
        f"SEED = {lit(t.seed)}\nEPOCHS = {lit(t.epochs)}\nBATCH_SIZE = {lit(t.batch_size)}\nLR = {lit(float(t.lr))}\n"
        f"L1 = {lit(float(t.l1))}\nL2 = {lit(float(t.l2))}\nDEVICE = {lit(t.device)}\n"
        f"EARLY_STOPPING = {lit(None if es is None else es.model_dump())}\n"
        f"HAS_ACCURACY = {lit(task.has_accuracy)}\n",
        SCHEDULE_CODE.get(t.lr_schedule.type)(t.lr_schedule, t),
        f"\n\ndef make_optimizer(params, lr):\n    return {OPTIMIZER_CODE.get(t.optimizer)}\n",
        f"\n\ndef make_loss():\n    return {LOSS_CODE.get(task.name)}\n",
        TRAIN,
    ]
    return re.sub(r"\n{4,}", "\n\n\n", "".join(parts))  # at most two blank lines, as PEP 8 has it


HEADER = '''#!/usr/bin/env python3
"""A Layerlab run, exported as a standalone PyTorch script.

Needs torch and numpy (scikit-learn too for the moons and digits datasets). It rebuilds the data
and the model and trains as the run did: the same seeds, the same initialisation order, the same
shuffles and dropout masks, so it prints the run's losses.

    python this_file.py              # train, printing each epoch
    python this_file.py --json       # ... then print the history as one JSON line
    python this_file.py --save m.pt  # ... then save the final weights (torch.save of the state_dict)

The model's state_dict keys are Layerlab's, so the run's downloaded safetensors load into
build_model() with safetensors.torch.load_file.
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import torch
from torch import nn

'''

COMMON_DATA = '''

def _jitter(x, noise, rng):
    return x + rng.normal(0.0, 0.5 * noise, size=x.shape) if noise > 0 else x


def _balanced(n):
    return (np.arange(n) % 2).astype(np.int64)

'''

MAKE_SPLIT = '''

def split_indices(n, val_fraction, train_fraction, seed):
    """Seeded shuffle, then validation first; only train_fraction of the rest is kept for training."""
    order = np.random.default_rng(seed + 1).permutation(n)
    n_val = min(max(1, round(n * val_fraction)), n - 1)
    val, train = order[:n_val], order[n_val:]
    keep = max(1, math.ceil(len(train) * train_fraction))
    return train[:keep], val


def make_split():
    """(x_train, y_train, x_val, y_val) tensors."""
    x, y = generate(N_SAMPLES, NOISE, np.random.default_rng(DATA_SEED))
    train, val = split_indices(len(y), VAL_FRACTION, TRAIN_FRACTION, DATA_SEED)
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    yt = @Y@
    idx_t, idx_v = torch.as_tensor(train), torch.as_tensor(val)
    return xt[idx_t], yt[idx_t], xt[idx_v], yt[idx_v]

'''

TRAIN = '''

EVAL_CHUNK = 8192
EXPLODE_FACTOR = 1e3  # a train loss this many times the constant predictor's counts as diverged


def resolve_device():
    if DEVICE != "auto":
        return torch.device(DEVICE)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    return torch.device("mps" if mps is not None and mps.is_available() else "cpu")


def baseline_loss(y_train):
    """The loss of the best constant prediction."""
    if HAS_ACCURACY:
        p = torch.bincount(y_train).float() / len(y_train)
        p = p[p > 0]
        return float(-(p * p.log()).sum())
    return float(y_train.float().var(unbiased=False))


@torch.no_grad()
def evaluate(model, loss_fn, x, y, device):
    """(mean loss, accuracy or None) in eval mode."""
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    for i in range(0, len(x), EVAL_CHUNK):
        xb, yb = x[i:i + EVAL_CHUNK], y[i:i + EVAL_CHUNK]
        out = model(xb)
        loss_sum += loss_fn(out, yb) * len(xb)
        if HAS_ACCURACY:
            correct += (out.argmax(dim=1) == yb).sum()
    model.train()
    return loss_sum.item() / len(x), (correct.item() / len(x) if HAS_ACCURACY else None)


def train(verbose=True):
    """Train as the run did; return (model, history)."""
    torch.set_num_threads(1)
    device = resolve_device()
    x_train, y_train, x_val, y_val = make_split()
    torch.manual_seed(SEED)
    model = build_model().to(device)
    shuffle = torch.Generator().manual_seed(SEED)
    dropout_gen = torch.Generator(device=device).manual_seed(SEED + 1)
    for m in model.modules():
        if hasattr(m, "generator"):
            m.generator = dropout_gen
    optimizer = make_optimizer(model.parameters(), LR)
    loss_fn = make_loss()
    penalized = [p for p in model.parameters() if p.dim() >= 2]  # weight matrices and kernels
    baseline = baseline_loss(y_train)
    x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))
    history = {"epoch": [], "train_loss": [], "val_loss": [], "train_acc": [], "val_acc": [], "lr": []}
    best_val, es_best, es_wait, es_state = math.inf, math.inf, 0, None
    n = len(x_train)
    for epoch in range(EPOCHS):
        lr = LR * lr_factor(epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        order = torch.randperm(n, generator=shuffle).to(device)
        model.train()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        for i in range(0, n, BATCH_SIZE):
            idx = order[i:i + BATCH_SIZE]
            xb, yb = x_train[idx], y_train[idx]
            out = model(xb)
            loss = loss_fn(out, yb)
            if L1 or L2:
                penalty = 0.0
                if L2 > 0:
                    penalty = penalty + L2 * sum((p * p).sum() for p in penalized)
                if L1 > 0:
                    penalty = penalty + L1 * sum(p.abs().sum() for p in penalized)
                total = loss + penalty
            else:
                total = loss
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(idx)
            if HAS_ACCURACY:
                correct += (out.detach().argmax(dim=1) == yb).sum()
        train_loss = loss_sum.item() / n
        train_acc = correct.item() / n if HAS_ACCURACY else None
        val_loss, val_acc = evaluate(model, loss_fn, x_val, y_val, device)
        for key, value in (("epoch", epoch + 1), ("train_loss", train_loss), ("val_loss", val_loss),
                           ("train_acc", train_acc), ("val_acc", val_acc), ("lr", lr)):
            history[key].append(value)
        if verbose:
            accs = f"  train_acc {train_acc:.4f}  val_acc {val_acc:.4f}" if HAS_ACCURACY else ""
            print(f"epoch {epoch + 1:4d}  train_loss {train_loss:.6f}  val_loss {val_loss:.6f}{accs}", flush=True)
        finite = math.isfinite(train_loss) and math.isfinite(val_loss)
        if not finite or (epoch + 1 >= 3 and train_loss > EXPLODE_FACTOR * max(baseline, 1e-3)):
            print("diverged: the loss became NaN or exploded; lower the learning rate")
            break
        best_val = min(best_val, val_loss)
        if EARLY_STOPPING is not None:
            if val_loss < es_best - EARLY_STOPPING["min_delta"]:
                es_best, es_wait = val_loss, 0
                if EARLY_STOPPING["restore_best"]:
                    es_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                es_wait += 1
                if es_wait >= EARLY_STOPPING["patience"]:
                    if es_state is not None:
                        model.load_state_dict(es_state)  # Keras' restore_best_weights
                    if verbose:
                        print(f"early stopping after epoch {epoch + 1}")
                    break
    return model, history


def main():
    parser = argparse.ArgumentParser(description="Train the exported Layerlab run.")
    parser.add_argument("--json", action="store_true", help="print the history as one JSON line at the end")
    parser.add_argument("--quiet", action="store_true", help="do not print each epoch")
    parser.add_argument("--save", metavar="PATH", help="save the final weights with torch.save")
    args = parser.parse_args()
    model, history = train(verbose=not args.quiet)
    if args.save:
        torch.save(model.state_dict(), args.save)
    if args.json:
        print(json.dumps(history))


if __name__ == "__main__":
    main()
'''

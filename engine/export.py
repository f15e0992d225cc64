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
from .data import find
from .export_code import DATA_CODE, HELPERS, MAKE_SPLIT, SCHEDULE_CODE, lit
from .family import FAMILIES
from .layers import LayerSpec, fmt
from .registry import Registry
from .shapes import Shape, infer
from .spec import ExperimentSpec


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
                     "adam_gan": "torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))",
                     "adamw": "torch.optim.AdamW(params, lr=lr, weight_decay=0.0)",
                     "rmsprop": "torch.optim.RMSprop(params, lr=lr)",
                     "adagrad": "torch.optim.Adagrad(params, lr=lr)"}.items():
    OPTIMIZER_CODE.register(_name, _code)

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


def stack_code(layers: list[LayerSpec], rows: list[Any], path: str) -> tuple[list[str], list[str]]:
    """One line per layer of a stack (`path` is its JSON path, e.g. model.layers) and the helpers they need."""
    lines, helpers = [], []
    for i, (layer, row) in enumerate(zip(layers, rows)):
        lines.append(f"        {_module(layer, row.input_shape)},  # {path}[{i}]: {layer.type} "
                     f"{fmt(row.input_shape)} -> {fmt(row.output_shape)}")
        for h in LAYER_CODE.get(layer.type).helpers(row.input_shape):
            if h not in helpers:
                helpers.append(h)
    return lines, helpers


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
    code = DATA_CODE.get(d.dataset)
    if hasattr(code, "with_shape"):  # sequence data: its split depends on the window
        info = ds.info(d)
        code = code.with_shape(info.input_shape[0], info.target_dim)
    return consts, code


# -- the script ----------------------------------------------------------------------------------------
def export_script(spec: ExperimentSpec, *, run_id: str = "", label: Optional[str] = None,
                  supplied: Optional[Any] = None) -> str:
    """The standalone training script of a validated spec (see the module docstring). The family
    writes build_model(), to_y() and the training loop; this module the data, optimizer and schedule."""
    t = spec.training
    family = FAMILIES.get(spec.task)
    consts, generate = data_code(spec, supplied)
    parts_of = family.export(spec, infer(spec))
    es = t.early_stopping
    parts = [
        HEADER,
        f"RUN_ID = {lit(run_id)}\nLABEL = {lit(label)}\nLAYERLAB_VERSION = {lit(__version__)}\n"
        f"# The run's spec, for reference; everything below is written out from it.\n"
        f"SPEC = json.loads({lit(json.dumps(spec.to_json(), allow_nan=False))})\n",
        "\n# -- data " + "-" * 90 + "\n" + consts,
        f"TASK = {lit(spec.task)}\n",
        COMMON_DATA,
        generate,
        "" if "def make_split" in generate else MAKE_SPLIT,
        "\n\n# -- model " + "-" * 89 + "\n",
        "".join(HELPERS[h] for h in parts_of.helpers),
        parts_of.model,
        "\n\n# -- training " + "-" * 86 + "\n",
        ENSEMBLE_NOTE.format(k=t.seeds) if t.seeds > 1 else "",
        f"SEED = {lit(t.seed)}\nEPOCHS = {lit(t.epochs)}\nBATCH_SIZE = {lit(t.batch_size)}\nLR = {lit(float(t.lr))}\n"
        f"L1 = {lit(float(t.l1))}\nL2 = {lit(float(t.l2))}\nDEVICE = {lit(t.device)}\n"
        f"EARLY_STOPPING = {lit(None if es is None else es.model_dump())}\n",
        "".join(f"{k} = {lit(v)}\n" for k, v in parts_of.constants.items()),
        SCHEDULE_CODE.get(t.lr_schedule.type)(t.lr_schedule, t),
        f"\n\ndef make_optimizer(params, lr):\n    return {OPTIMIZER_CODE.get(t.optimizer)}\n",
        parts_of.train,
        MAIN,
    ]
    return re.sub(r"\n{4,}", "\n\n\n", "".join(parts))  # at most two blank lines, as PEP 8 has it


# An ensemble's script trains member 0 (engine/families/ensemble.py): the weights the run saved.
ENSEMBLE_NOTE = ("# The run was an ensemble of {k} seeds (training.seeds): SEED, SEED + 1, ... with one batch order.\n"
                 "# This script trains member 0, the run of SEED, whose weights the run saved; the run's\n"
                 "# history is the {k} members' mean (and sd), so these losses are member 0's alone.\n")

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

MAIN = '''

def final_line(history):
    """The last epoch's numbers in one line: what --quiet prints."""
    if not history.get("epoch"):
        return "final: no epoch trained"
    parts = [f"final: epoch {history['epoch'][-1]}"]
    for key, values in history.items():
        if key != "epoch" and values and isinstance(values[-1], float):
            parts.append(f"{key} {values[-1]:.6g}")
    return "  ".join(parts)


def main():
    parser = argparse.ArgumentParser(description="Train the exported Layerlab run.")
    parser.add_argument("--json", action="store_true", help="print the history as one JSON line at the end")
    parser.add_argument("--quiet", action="store_true", help="print only the final epoch, not each one")
    parser.add_argument("--save", metavar="PATH", help="save the final weights with torch.save")
    args = parser.parse_args()
    model, history = train(verbose=not args.quiet)
    if args.quiet:
        print(final_line(history), flush=True)
    if args.save:
        torch.save(model.state_dict(), args.save)
    if args.json:
        print(json.dumps(history))


if __name__ == "__main__":
    main()
'''

"""The exported script against the engine: it must rebuild the same data, the same initial weights
and the same training, so its per-epoch losses are the engine's.

Each script runs in a real Python subprocess, as a user would run it; one driver process imports
every script of a test, so torch is imported once. Values from the user reach a script only as
literals: a test feeds it a label and column names built to break out of a string, and checks
that the script's syntax tree holds them as constants and nothing else.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from engine.activations import ACTIVATIONS
from engine.csvdata import read_csv, select
from engine.datasets import DATASETS, SOURCES, build_split
from engine.export import ACTIVATION_CODE, LAYER_CODE, OPTIMIZER_CODE, export_script
from engine.export_code import DATA_CODE, HELPERS, SCHEDULE_CODE, lit
from engine.layers import LAYERS
from engine.optimizers import OPTIMIZERS
from engine.spec import DataSpec, merge_patch, parse_spec
from engine.tasks import TASKS
from engine.trainer import Trainer

TOL = 1e-6
BASE: dict[str, Any] = {
    "data": {"dataset": "circle", "n_samples": 120, "noise": 0.1, "seed": 3},
    "model": {"layers": [{"type": "dense", "units": 8, "activation": "tanh"}]},
    "training": {"optimizer": "adam", "lr": 0.02, "batch_size": 16, "epochs": 4, "seed": 5, "device": "cpu"},
}
DENSE = [{"type": "dense", "units": 8, "activation": "relu"}]
# A recurrent stack for sequence data: every cell, return_sequences between them.
RNN = [{"type": "gru", "units": 6, "return_sequences": True}, {"type": "rnn", "units": 5, "return_sequences": True},
       {"type": "lstm", "units": 4}, {"type": "dense", "units": 4, "activation": "tanh"}]
CNN = [{"type": "conv2d", "filters": 3, "kernel_size": 3, "activation": "relu"}, {"type": "batchnorm"},
       {"type": "maxpool2d", "kernel_size": 2}, {"type": "conv2d", "filters": 2, "kernel_size": 2, "padding": "valid",
                                                  "stride": 1, "activation": "elu"},
       {"type": "avgpool2d", "kernel_size": 1}, {"type": "flatten"}, {"type": "dropout", "p": 0.3},
       {"type": "dense", "units": 8, "activation": "gelu"}]

# Every dataset, every layer that a dataset here can take, every activation, optimizer and schedule,
# both penalties, dropout and early stopping that triggers.
CASES: dict[str, dict[str, Any]] = {
    **{f"data-{name}": {"data": {"dataset": name, "n_samples": 60 if name != "digits" else 200},
                        "model": {"layers": CNN if name == "digits" else RNN if ds.kind == "sequence" else DENSE}}
       # Data whose natural family has other stacks (ring, grid: a GAN's) is replayed in that family's test.
       for name, ds in DATASETS.items() if len(TASKS.get(ds.task).stacks) == 1},
    "sequence-window-horizon": {"data": {"dataset": "sequences", "n_samples": 80, "window": 12, "horizon": 3},
                                "model": {"layers": [{"type": "lstm", "units": 5}]}},
    **{f"act-{name}": {"model": {"layers": [{"type": "dense", "units": 6, "activation": name}]},
                       "training": {"lr": 0.05}} for name in ACTIVATIONS.names()},
    **{f"opt-{name}": {"training": {"optimizer": name, "lr": 0.05}} for name in OPTIMIZERS.names()},
    "sched-step": {"training": {"lr_schedule": {"type": "step", "step_size": 2, "gamma": 0.3}}},
    "sched-exponential": {"training": {"lr_schedule": {"type": "exponential", "gamma": 0.7}}},
    "sched-cosine": {"training": {"epochs": 5, "lr_schedule": {"type": "cosine", "min_lr": 0.001}}},
    "penalties-dropout-batchnorm": {
        "model": {"layers": [{"type": "dense", "units": 12, "activation": "relu"}, {"type": "dropout", "p": 0.4},
                             {"type": "batchnorm", "activation": "tanh"}, {"type": "dense", "units": 6}]},
        "training": {"l1": 1e-3, "l2": 1e-2, "optimizer": "momentum", "lr": 0.05, "batch_size": 7}},
    "early-stopping": {"data": {"n_samples": 40, "noise": 0.6},
                       "model": {"layers": [{"type": "dense", "units": 64, "activation": "relu"}]},
                       "training": {"epochs": 60, "lr": 0.05,
                                    "early_stopping": {"patience": 2, "min_delta": 0.01, "restore_best": True}}},
    "train-fraction": {"data": {"val_fraction": 0.5, "train_fraction": 0.4}},
    "linear": {"model": {"layers": []}, "training": {"seed": 0}},
}

DRIVER = textwrap.dedent('''
    import hashlib, importlib.util, json, sys
    import torch

    def digest(tensors):
        h = hashlib.sha256()
        for t in tensors:
            h.update(str(t.dtype).encode() + str(tuple(t.shape)).encode() + t.contiguous().numpy().tobytes())
        return h.hexdigest()

    out = {}
    for name, path in json.loads(sys.argv[1]).items():
        spec = importlib.util.spec_from_file_location("exported_" + name.replace("-", "_"), path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)  # the scripts this test wrote; nothing from a user
        model, history = mod.train(verbose=False)
        weights = path[:-3] + ".safetensors"
        loaded = None
        try:
            from safetensors.torch import load_file
            fresh = mod.build_model()
            fresh.load_state_dict(load_file(weights), strict=True)
            # Equal to float32 rounding: a small dense run trains on the fused numpy path (issue 16),
            # whose matmuls round differently from the script's torch ones in the last bits.
            loaded = all(torch.allclose(a, b, rtol=1e-4, atol=1e-6)
                         for a, b in zip(fresh.state_dict().values(), model.state_dict().values()))
        except FileNotFoundError:
            pass
        out[name] = {"history": history, "data": digest(mod.make_split()), "weights_match": loaded}
    print(json.dumps(out))
''')


def spec_of(patch: dict[str, Any]):
    return parse_spec(merge_patch(BASE, patch))


def digest(tensors) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(str(t.dtype).encode() + str(tuple(t.shape)).encode() + t.contiguous().numpy().tobytes())
    return h.hexdigest()


def run_scripts(tmp_path: Path, scripts: dict[str, str], timeout: float = 300) -> dict[str, Any]:
    """Write each script, run them all in one fresh interpreter, return what each trained."""
    paths = {}
    for name, text in scripts.items():
        p = tmp_path / f"{name}.py"
        p.write_text(text, encoding="utf-8")
        paths[name] = str(p)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    proc = subprocess.run([sys.executable, str(driver), json.dumps(paths)], capture_output=True, text=True,
                          timeout=timeout, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_same_history(engine: dict[str, list], script: dict[str, list], name: str) -> None:
    assert script["epoch"] == engine["epoch"], f"{name}: epochs differ"
    for col in ("train_loss", "val_loss", "lr"):
        for e, (a, b) in enumerate(zip(engine[col], script[col]), 1):
            assert abs(a - b) <= TOL, f"{name}: {col} differs at epoch {e}: engine {a!r}, script {b!r}"
    for col in ("train_acc", "val_acc", "naive_val_loss"):
        assert engine.get(col) == script.get(col), f"{name}: {col} differs"
    assert set(script) == set(engine) - {"step_time"}, f"{name}: the script's columns are not the family's"


def test_every_registered_name_can_be_exported():
    assert set(LAYER_CODE.names()) == set(LAYERS.names())
    assert set(ACTIVATION_CODE.names()) == set(ACTIVATIONS.names())
    assert set(OPTIMIZER_CODE.names()) == set(OPTIMIZERS.names())
    for name, family in TASKS.items():  # every family writes its part of a script for data it fits
        data = next(d for d, ds in DATASETS.items() if family.fits(ds.info(DataSpec(dataset=d))) is None)
        layers = RNN if DATASETS.get(data).kind == "sequence" else DENSE
        model = family.empty_model()  # every stack the family names (a GAN's two) gets the layers
        for stack in family.stacks:
            *parents, leaf = stack.path.split(".")
            node = model
            for part in parents:
                node = node[part]
            node[leaf] = layers
        spec = parse_spec({"task": name, "data": {"dataset": data}, "model": model})
        compile(export_script(spec), f"{name}.py", "exec")
    assert set(DATA_CODE.names()) == set(DATASETS.names()) | set(SOURCES.names())
    assert set(SCHEDULE_CODE.names()) == {"none", "step", "exponential", "cosine"}


@pytest.mark.slow
def test_scripts_replay_the_engine(tmp_path):
    """Same data bytes, same per-epoch losses and accuracies, and the run's weights load into the script."""
    engine, scripts = {}, {}
    for name, patch in CASES.items():
        spec = spec_of(patch)
        trainer = Trainer(spec)
        trainer.run()
        split = build_split(spec.data, spec.task)
        engine[name] = (trainer.history, digest([split.x_train, split.y_train, split.x_val, split.y_val]))
        save_file({k: v.contiguous() for k, v in trainer.model.state_dict().items()},
                  str(tmp_path / f"{name}.safetensors"))
        scripts[name] = export_script(spec, run_id="r" + name, label=name)
    got = run_scripts(tmp_path, scripts)
    for name, (history, data) in engine.items():
        assert got[name]["data"] == data, f"{name}: the script's data differ from the engine's"
        assert_same_history(history, got[name]["history"], name)
        # The run's weights load into the script's model (same keys and shapes) and equal its own.
        assert got[name]["weights_match"] is True, name
    assert len(engine["early-stopping"][0]["epoch"]) < 60  # early stopping did trigger


def test_the_script_runs_from_the_command_line(tmp_path):
    spec = spec_of({"data": {"dataset": "moons", "n_samples": 80}, "training": {"epochs": 3}})
    trainer = Trainer(spec)
    trainer.run()
    path = tmp_path / "run.py"
    path.write_text(export_script(spec, run_id="abc", label="moons"))
    proc = subprocess.run([sys.executable, str(path), "--json", "--save", str(tmp_path / "m.pt")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("epoch    1  train_loss ")
    assert_same_history(trainer.history, json.loads(lines[-1]), "cli")
    state = torch.load(tmp_path / "m.pt", weights_only=True)
    assert set(state) == set(trainer.model.state_dict())


def _table_csv(names: list[str], rows: int = 40, labels: tuple[str, str] = ("no", "yes")) -> str:
    """A CSV (written by the csv module, so any name or label is quoted as needed): a, b, label."""
    rng = np.random.default_rng(0)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(names)
    for _ in range(rows):
        a, b = rng.normal(size=2)
        writer.writerow([repr(float(a)), repr(float(b)), labels[int(a + b > 0)]])
    return out.getvalue()


@pytest.mark.slow
def test_uploaded_tables_replay_too(tmp_path):
    """The chosen columns travel inside the script; classification and regression both replay."""
    text = _table_csv(["a", "b", "label"])
    table = read_csv(text, max_rows=1000)
    cls = spec_of({"task": "classification", "data": {"dataset": "csv", "upload": "u1", "features": ["a", "b"],
                                                      "target": "label", "n_classes": 2, "n_samples": None}})
    reg = spec_of({"task": "regression", "data": {"dataset": "csv", "upload": "u1", "features": ["a"],
                                                  "target": "b", "n_samples": 30}})
    engine, scripts = {}, {}
    from engine.csvdata import table_split

    for name, spec in (("csv-cls", cls), ("csv-reg", reg)):
        sel = select(table, list(spec.data.features), spec.data.target, spec.task, n_rows=spec.data.n_samples)
        split = table_split(table, spec.data, spec.task)
        trainer = Trainer(spec, split=split)
        trainer.run()
        engine[name] = (trainer.history, digest([split.x_train, split.y_train, split.x_val, split.y_val]))
        scripts[name] = export_script(spec, supplied=sel)
    got = run_scripts(tmp_path, scripts)
    for name, (history, data) in engine.items():
        assert got[name]["data"] == data, name
        assert_same_history(history, got[name]["history"], name)


EVIL = [
    "x'; import os; os.system('touch PWNED'); '",
    'x"""\nimport os\nos.system("touch PWNED")\n"""',
    "x'''\nimport os; os.system('touch PWNED')\n'''",
    "x\\\nimport os; os.system('touch PWNED') #",
    "x\n__import__('os').system('touch PWNED')",
    "{__import__('os').system('touch PWNED')}",
]


def _constants(tree: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


@pytest.mark.parametrize("evil", EVIL)
def test_a_label_cannot_inject_code(evil):
    script = export_script(spec_of({}), run_id=evil, label=evil)
    tree = ast.parse(script)
    assert evil in _constants(tree)
    # Nothing but the script's own code calls anything: no os, no system, no __import__.
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | \
            {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not names & {"os", "system", "__import__"}


def test_column_names_and_class_labels_cannot_inject_code(tmp_path):
    names = [EVIL[0], EVIL[1], EVIL[4]]
    table = read_csv(_table_csv(names, rows=12, labels=(EVIL[2], EVIL[3])), max_rows=100)
    spec = spec_of({"task": "classification", "data": {"dataset": "csv", "upload": "u", "features": names[:2],
                                                       "target": names[2], "n_classes": 2},
                    "training": {"epochs": 1}})
    sel = select(table, names[:2], names[2], "classification")
    script = export_script(spec, label=EVIL[5], supplied=sel)
    tree = ast.parse(script)
    assert set(names) | {EVIL[2], EVIL[3], EVIL[5]} <= _constants(tree) | _embedded(tree)
    path = tmp_path / "evil.py"
    path.write_text(script)
    proc = subprocess.run([sys.executable, str(path), "--quiet"], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "PWNED").exists()


def _embedded(tree: ast.AST) -> set[str]:
    """Strings inside the JSON literals (the spec), which the script decodes as data."""
    out: set[str] = set()

    def walk(v: Any) -> None:
        if isinstance(v, str):
            out.add(v)
        elif isinstance(v, dict):
            for k, x in v.items():
                out.add(k)
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    for c in _constants(tree):
        if c.startswith("{"):
            try:
                walk(json.loads(c))
            except ValueError:
                pass
    return out


@pytest.mark.parametrize("value", [None, True, 0, -3, 1.5, 1e-300, 0.1 + 0.2, "a'b\"c\n\\", ["x", 1, {"k": [2.0]}]])
def test_literals_round_trip_exactly(value):
    assert ast.literal_eval(lit(value)) == value


def test_a_non_finite_float_is_written_as_a_call_on_a_literal():
    assert lit(float("inf")) == "float('inf')"
    with pytest.raises(TypeError):
        lit(object())


def test_recurrent_and_sequence_modules_match_the_engine(tmp_path):
    """No built-in dataset is a sequence yet; the modules and their initial weights already match."""
    from engine.export import _module

    cases = {"rnn": {"type": "rnn", "units": 5}, "lstm": {"type": "lstm", "units": 4, "return_sequences": True},
             "gru": {"type": "gru", "units": 3, "activation": "tanh"}, "seqbn": {"type": "batchnorm"}}
    shape = (6, 3)  # (T, F)
    from pydantic import TypeAdapter

    from engine.spec import LayerSpec

    adapter = TypeAdapter(LayerSpec)
    body = ["import json", "import torch", "from torch import nn", *[HELPERS[h] for h in ("Recurrent", "SeqBatchNorm")]]
    expected = {}
    for name, raw in cases.items():
        layer = adapter.validate_python(raw)
        torch.manual_seed(0)
        module = layer.build(shape)
        expected[name] = {k: float(v.double().sum()) for k, v in module.state_dict().items()}
        body.append(f"def build_{name}():\n    return {_module(layer, shape)}\n")
    body.append(textwrap.dedent(f'''
        out = {{}}
        for name in {sorted(cases)!r}:
            torch.manual_seed(0)
            m = globals()["build_" + name]()
            out[name] = {{k: float(v.double().sum()) for k, v in m.state_dict().items()}}
            m(torch.randn(2, 6, 3))
        print(json.dumps(out))
    '''))
    path = tmp_path / "modules.py"
    path.write_text("\n".join(body))
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == expected


def test_quiet_prints_the_final_epoch_only(tmp_path):
    """--quiet printed nothing at all (issue 13): it prints the last epoch's numbers in one line."""
    path = tmp_path / "quiet.py"
    path.write_text(export_script(spec_of({"training": {"epochs": 3}})))
    proc = subprocess.run([sys.executable, str(path), "--quiet"], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("final: epoch 3  "), proc.stdout
    assert "train_loss " in lines[0] and "val_loss " in lines[0]

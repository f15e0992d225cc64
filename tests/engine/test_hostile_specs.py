"""Specs the 2026-12 hostile audit found broken (issue 14): a linear model on images (defect 4)
and non-finite floats such as `1e999` (defect 5)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.datasets import build_split
from engine.errors import SpecError
from engine.export import export_script
from engine.shapes import infer
from engine.spec import merge_patch, parse_spec
from engine.trainer import Trainer

ROOT = Path(__file__).resolve().parents[2]
LINEAR_DIGITS = {"data": {"dataset": "digits", "n_samples": 200}, "model": {"layers": []},
                 "training": {"epochs": 3, "batch_size": 50, "device": "cpu", "seed": 4}}


def test_a_linear_model_on_digits_flattens_into_the_head():
    summary = infer(parse_spec(LINEAR_DIGITS))
    (head,) = summary.rows
    assert head.is_head and head.input_shape == (64,) and head.output_shape == (10,)
    assert head.params == 64 * 10 + 10


def test_the_linear_digits_model_is_x_flat_times_w_plus_b_and_trains():
    trainer = Trainer(parse_spec(LINEAR_DIGITS))
    linears = [m for m in trainer.model.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 1
    w, b = linears[0].weight, linears[0].bias  # (10, 64), (10,)
    split = build_split(parse_spec(LINEAR_DIGITS).data, "classification")
    x = torch.as_tensor(split.x_train[:7], dtype=torch.float32)  # (7, 1, 8, 8)
    with torch.no_grad():
        assert torch.allclose(trainer.model(x), x.flatten(1) @ w.T + b, atol=1e-6)
    result = trainer.run()
    assert result.status == "finished" and result.epochs == 3


def test_the_exported_linear_digits_script_runs(tmp_path):
    script = tmp_path / "linear.py"
    script.write_text(export_script(parse_spec(LINEAR_DIGITS)), encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script), "--json", "--quiet"], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    history = json.loads(proc.stdout.strip().splitlines()[-1])
    engine = Trainer(parse_spec(LINEAR_DIGITS))
    engine.run()
    assert history["epoch"] == engine.history["epoch"]
    for a, b in zip(history["train_loss"], engine.history["train_loss"]):
        assert abs(a - b) < 1e-4


def test_the_cli_validates_a_linear_digits_model(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(LINEAR_DIGITS))
    proc = subprocess.run([sys.executable, "-m", "server.cli", "validate", str(path)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "total parameters: 650" in proc.stdout


BASE = {"data": {"dataset": "spiral"}, "model": {"layers": [{"type": "dense", "units": 4}]}}
FLOAT_FIELDS = [
    ({"training": {"l1": "X"}}, "training.l1"),
    ({"training": {"l2": "X"}}, "training.l2"),
    ({"training": {"lr": "X"}}, "training.lr"),
    ({"training": {"early_stopping": {"min_delta": "X"}}}, "training.early_stopping.min_delta"),
    ({"training": {"lr_schedule": {"type": "cosine", "min_lr": "X"}}}, "training.lr_schedule.min_lr"),
    ({"data": {"noise": "X"}}, "data.noise"),
    ({"model": {"layers": [{"type": "dense", "units": 4}, {"type": "dropout", "p": "X"}]}}, "model.layers[1].p"),
]


@pytest.mark.parametrize("literal", ["1e999", "-1e999", "NaN", "Infinity"])
@pytest.mark.parametrize("patch,path", FLOAT_FIELDS)
def test_every_float_field_rejects_nan_and_infinity_at_its_path(patch, path, literal):
    text = json.dumps(merge_patch(BASE, patch)).replace('"X"', literal)
    for raw in (text, json.loads(text)):  # JSON text (the CLI) and parsed JSON (the server)
        with pytest.raises(SpecError) as e:
            parse_spec(raw)
        assert [i.path for i in e.value.errors] == [path]
        assert "finite" in e.value.errors[0].message


def test_finite_large_floats_still_pass_and_round_trip_as_standard_json():
    spec = parse_spec(merge_patch(BASE, {"training": {"l1": 1e300, "l2": 1e-300}}))
    text = json.dumps(spec.to_json(), allow_nan=False)
    assert parse_spec(text).training.l1 == 1e300

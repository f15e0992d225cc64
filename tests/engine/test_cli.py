"""The headless commands through a real subprocess: `layerlab validate` and `layerlab train`.

Exit codes (README): 0 when training ran, diverged included; 2 for an invalid spec, with the
JSON path and message on stderr; 1 for anything else.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
END_KEYS = {"type", "status", "epochs", "best_epoch", "val_loss", "val_acc", "weights_epoch", "verdict"}
EPOCH_KEYS = {"type", "epoch", "train_loss", "val_loss", "train_acc", "val_acc", "lr"}


def layerlab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def write(tmp_path: Path, spec: Any, name: str = "spec.json") -> str:
    path = tmp_path / name
    path.write_text(spec if isinstance(spec, str) else json.dumps(spec), encoding="utf-8")
    return str(path)


CIRCLE = {"data": {"dataset": "circle", "n_samples": 60},
          "model": {"layers": [{"type": "dense", "units": 8, "activation": "tanh"}]},
          "training": {"epochs": 40, "batch_size": 10, "device": "cpu"}}


def test_validate_prints_the_layer_table(tmp_path):
    spec = {"data": {"dataset": "digits"}, "model": {"layers": [
        {"type": "conv2d", "filters": 4}, {"type": "maxpool2d"}, {"type": "flatten"}, {"type": "dense", "units": 16}]}}
    out = layerlab("validate", write(tmp_path, spec))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "input (1, 8, 8)"
    body = "\n".join(lines)
    for needle in ("conv2d relu", "(4, 8, 8)", "maxpool2d", "(4, 4, 4)", "flatten", "(64,)", "dense relu",
                   "(16,)", "head (dense)", "(10,)"):
        assert needle in body, needle
    total = (1 * 4 * 9 + 4) + (64 * 16 + 16) + (16 * 10 + 10)
    assert lines[-1] == f"total parameters: {total:,}"


@pytest.mark.parametrize("spec,path,needle", [
    ({"data": {"dataset": "circle"}, "model": {"layers": [{"type": "dense", "units": -1}]}},
     "model.layers[0].units", "greater than or equal to 1"),
    ({"data": {"dataset": "digits"}, "model": {"layers": [{"type": "conv2d"}, {"type": "dense"}]}},
     "model.layers[1]", "insert a flatten layer"),
    ("{not json", "$", "not valid JSON"),
])
def test_validate_rejects_an_invalid_spec_with_exit_2(tmp_path, spec, path, needle):
    out = layerlab("validate", write(tmp_path, spec))
    assert out.returncode == 2
    assert out.stdout == ""
    first = out.stderr.splitlines()[0]
    assert first.startswith(f"{path}: ") and needle in first


def test_unreadable_file_exits_1(tmp_path):
    out = layerlab("train", str(tmp_path / "missing.json"))
    assert out.returncode == 1
    assert "cannot read" in out.stderr and "missing.json" in out.stderr


@pytest.mark.outcome
def test_train_jsonl_streams_epochs_then_diagnosis_then_end(tmp_path):
    out = layerlab("train", write(tmp_path, CIRCLE), "--jsonl", "--epochs", "12")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    types = [r["type"] for r in rows]
    assert types == ["epoch"] * 12 + ["diagnosis", "end"]  # --epochs overrides the spec's 40
    epochs = rows[:12]
    assert [r["epoch"] for r in epochs] == list(range(1, 13))
    assert all(set(r) == EPOCH_KEYS for r in epochs)
    assert all(r["lr"] == 0.01 and 0 <= r["val_acc"] <= 1 for r in epochs)
    diagnosis, end = rows[-2], rows[-1]
    assert {"verdict", "reason", "remedies"} <= set(diagnosis)
    assert set(end) == END_KEYS
    assert end["status"] == "finished" and end["epochs"] == 12
    assert end["verdict"] == diagnosis["verdict"] != "too_early"
    assert end["val_loss"] == epochs[-1]["val_loss"]
    assert end["best_epoch"] == 1 + [r["val_loss"] for r in epochs].index(min(r["val_loss"] for r in epochs))


def _reject(token: str) -> None:
    raise AssertionError(f"{token} in the output: strict JSON has no NaN or Infinity")


@pytest.mark.outcome
def test_diverging_run_exits_0_with_status_diverged(tmp_path):
    spec = {**CIRCLE, "training": {**CIRCLE["training"], "optimizer": "sgd", "lr": 1e6}}
    out = layerlab("train", write(tmp_path, spec), "--jsonl")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line, parse_constant=_reject) for line in out.stdout.splitlines()]
    end = rows[-1]
    assert end["type"] == "end" and end["status"] == "diverged" and end["verdict"] == "diverged"
    assert end["epochs"] < 40
    assert rows[-2]["type"] == "diagnosis" and rows[-2]["remedies"][0]["id"] == "lower_lr"


@pytest.mark.outcome
def test_progress_bar_mode_prints_a_summary_with_the_verdict(tmp_path):
    out = layerlab("train", write(tmp_path, CIRCLE), "--epochs", "15")
    assert out.returncode == 0, out.stderr
    assert "15/15" in out.stderr  # tqdm's bar goes to stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "status: finished after 15 epochs"
    assert lines[1].startswith("final val loss: ") and "best epoch: " in lines[1]
    verdict = next(line for line in lines if line.startswith("verdict: "))
    assert verdict.split(":")[1].strip() in {"underfitting", "overfitting", "good_fit"}
    assert "After 15 epochs" in verdict


@pytest.mark.parametrize("loss,column", [("standard", "d_real"), ("wasserstein_gp", "w_distance")])
def test_a_gans_bar_and_summary_name_its_own_columns(tmp_path, loss: str, column: str):
    """A GAN has no train or validation loss: the bar showed loss=nan and val=nan, and the summary
    called its energy distance a "val loss"."""
    dense = {"layers": [{"type": "dense", "units": 8, "activation": "relu"}]}
    spec = {"task": "generation", "data": {"dataset": "ring", "n_samples": 200},
            "model": {"latent_dim": 2, "generator": dense, "discriminator": dense},
            "training": {"epochs": 3, "batch_size": 64, "device": "cpu", "loss": loss}}
    out = layerlab("train", write(tmp_path, spec))
    assert out.returncode == 0, out.stderr
    bar = out.stderr.replace("\r", "\n").splitlines()
    last = next(line for line in reversed(bar) if "3/3" in line)
    assert all(f"{k}=" in last for k in ("g_loss", "d_loss", column, "distance")) and "nan" not in last, last
    summary = out.stdout.splitlines()[1]
    assert summary.startswith("final distance: ") and "val loss" not in summary


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_unavailable_device_exits_2(tmp_path):
    out = layerlab("train", write(tmp_path, CIRCLE), "--device", "cuda", "--jsonl")
    assert out.returncode == 2
    assert out.stderr.startswith("training.device: ") and out.stdout == ""

"""GET /api/runs/{id}/export.py: the downloaded script, run in a real subprocess, prints the losses
that GET /api/runs/{id} reports for the run; a label built to inject code stays a string."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from serverkit import spec
from sessions_kit import flowers

TOL = 1e-5
EVIL = "x'''\n\"\"\"; import os; os.system('touch PWNED') #\\"


def run_script(client, run_id: str, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    r = client.get(f"/api/runs/{run_id}/export.py")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/x-python")
    assert r.headers["content-disposition"] == f'attachment; filename="layerlab-{run_id[:8]}.py"'
    path = tmp_path / f"{run_id}.py"
    path.write_text(r.text, encoding="utf-8")
    proc = subprocess.run([sys.executable, str(path), "--json", "--quiet"], capture_output=True, text=True,
                          timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return r.text, json.loads(proc.stdout.strip().splitlines()[-1])


def assert_replays(run: dict[str, Any], script: dict[str, Any]) -> None:
    h = run["history"]
    assert script["epoch"] == h["epoch"]
    for col in ("train_loss", "val_loss"):
        assert len(script[col]) == len(h[col]) == len(h["epoch"]), col
        assert all(abs(a - b) <= TOL for a, b in zip(h[col], script[col])), (col, h[col], script[col])


@pytest.mark.slow
def test_the_exported_script_reproduces_the_run(sapi, client, tmp_path):
    s = sapi.create()
    body = spec({"data": {"dataset": "spiral", "n_samples": 200, "noise": 0.1},
                 "model": {"layers": [{"type": "dense", "units": 16, "activation": "relu"},
                                      {"type": "dropout", "p": 0.2},
                                      {"type": "dense", "units": 16, "activation": "tanh"}]},
                 "training": {"optimizer": "adam", "lr": 0.01, "epochs": 12, "l2": 1e-4,
                              "lr_schedule": {"type": "step", "step_size": 5, "gamma": 0.5}}})
    run = sapi.run(s, body, label=EVIL)
    done = sapi.wait_done(run["id"])
    assert done["status"] == "finished"
    text, script = run_script(client, run["id"], tmp_path)
    assert_replays(done, script)
    # The label reaches the script only as a string constant.
    tree = ast.parse(text)
    assert EVIL in {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.slow
def test_a_run_on_an_uploaded_csv_exports_with_its_data(sapi, client, tmp_path):
    s = sapi.create()
    up = sapi.upload(s, flowers(n=90))
    body = spec({"task": "classification", "data": up["data"],
                 "model": {"layers": [{"type": "dense", "units": 8, "activation": "relu"}]},
                 "training": {"optimizer": "adam", "lr": 0.02, "epochs": 6}})
    run = sapi.run(s, body)
    done = sapi.wait_done(run["id"])
    assert done["status"] == "finished"
    text, script = run_script(client, run["id"], tmp_path)
    assert_replays(done, script)
    assert "CLASSES = ['setosa', 'versicolor', 'virginica']" in text


def test_an_unknown_run_has_no_export(client):
    assert client.get("/api/runs/nope/export.py").status_code == 404

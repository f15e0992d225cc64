"""An autoencoder through the server: the catalog describes the family, a run streams its own
columns and views over the websocket, and it saves, forks and exports like any run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from serverkit import LiveServer

AE = {"task": "reconstruction", "data": {"dataset": "digits", "n_samples": 400},
      "model": {"latent_dim": 2, "encoder": {"layers": [{"type": "flatten"},
                                                        {"type": "dense", "units": 16, "activation": "relu"}]},
                "decoder": {"layers": [{"type": "dense", "units": 16, "activation": "relu"}]}},
      "training": {"optimizer": "adam", "lr": 0.01, "batch_size": 64, "epochs": 10, "denoise": 0.2, "device": "cpu"}}
COLUMNS = ["train_loss", "val_loss", "noisy_loss"]


def test_the_catalog_describes_the_autoencoder(client) -> None:
    cat = client.get("/api/catalog").json()
    ae = next(t for t in cat["tasks"] if t["name"] == "reconstruction")
    assert [s["label"] for s in ae["stacks"]] == ["Encoder layers", "Decoder layers"]
    assert [m["name"] for m in ae["metrics"]] == COLUMNS and ae["monitor"] == "val_loss"
    assert ae["metrics"][0]["pair"] == "val_loss" and ae["metrics"][2]["baseline"]
    assert [f["name"] for f in ae["training_fields"]] == ["denoise"]
    r = client.post("/api/validate", json={**AE, "training": {**AE["training"], "denoise": 2}})
    assert r.status_code == 422 and "training.denoise" in r.text


def test_an_autoencoder_run_streams_its_columns_and_views(make_live) -> None:
    live: LiveServer = make_live()
    run_id = live.api.create(AE)["id"]
    s = live.stream(run_id)
    try:
        s.until(lambda m: m["type"] == "end", timeout=90)
    finally:
        s.close()
    batches = [m for m in s.messages if m["type"] == "metrics"]
    assert batches and all(c in batches[0] for c in COLUMNS) and "train_acc" not in batches[0]
    snaps = {m["kind"]: m for m in s.messages if m["type"] == "snapshot"}
    assert {"reconstructions", "latent_space", "latent_walk"} <= set(snaps)
    rec = snaps["reconstructions"]["data"] if "data" in snaps["reconstructions"] else snaps["reconstructions"]
    assert len(rec["noisy"]) == 8
    run = live.api.run(run_id)
    assert run["status"] == "finished" and len(run["history"]["val_loss"]) == 10
    assert run["history"]["val_loss"][-1] < run["history"]["val_loss"][0]
    assert len(set(run["history"]["noisy_loss"])) == 1  # the validation noise is drawn once
    assert any(m["type"] == "diagnosis" for m in s.messages)


def test_an_autoencoder_saves_forks_and_exports(sapi, client, tmp_path: Path) -> None:
    s = sapi.create("AE", spec_body=AE)
    run = sapi.run(s, AE)
    done = sapi.wait_done(run["id"], timeout=90)
    assert done["status"] == "finished" and done["spec"]["training"]["denoise"] == 0.2
    saved = sapi.wait_saved(s, run["id"])
    assert saved["has_weights"]
    fork = sapi.fork(s)
    forked = sapi.get(fork)
    assert forked["spec"]["model"]["latent_dim"] == 2
    assert forked["runs"][0]["history"]["val_loss"] == done["history"]["val_loss"]
    r = client.get(f"/api/runs/{run['id']}/export.py")
    assert r.status_code == 200, r.text
    path = tmp_path / "ae.py"
    path.write_text(r.text)
    proc = subprocess.run([sys.executable, str(path), "--json", "--quiet"], capture_output=True, text=True,
                          timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    hist = json.loads(proc.stdout.strip().splitlines()[-1])
    assert hist["val_loss"] == done["history"]["val_loss"]

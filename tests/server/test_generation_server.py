"""A GAN through the server: the catalog describes the family, a run streams its own columns and
views, and it saves, shares, forks and exports like any run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from serverkit import LiveServer

GAN = {"task": "generation", "data": {"dataset": "ring", "n_samples": 300},
       "model": {"latent_dim": 2, "generator": {"layers": [{"type": "dense", "units": 16, "activation": "relu"}]},
                 "discriminator": {"layers": [{"type": "dense", "units": 16, "activation": "relu"}]}},
       "training": {"optimizer": "adam_gan", "lr": 0.002, "d_lr": 0.004, "d_steps": 2, "batch_size": 128,
                    "epochs": 12, "device": "cpu"}}
COLUMNS = ["g_loss", "d_loss", "d_real", "d_fake", "w_distance", "distance", "modes_covered"]


def test_the_catalog_describes_the_gan(client) -> None:
    cat = client.get("/api/catalog").json()
    gan = next(t for t in cat["tasks"] if t["name"] == "generation")
    assert [s["label"] for s in gan["stacks"]] == ["Generator layers", "Discriminator layers"]
    assert [m["name"] for m in gan["metrics"]] == COLUMNS and gan["monitor"] == "distance"
    assert "no validation loss" in gan["early_stopping"]
    assert [o["name"] for o in gan["options"]] == ["latent_dim", "minibatch_std"]
    assert gan["options"][0]["default"] == 2 and gan["options"][1]["default"] is False
    assert [f["name"] for f in gan["training_fields"]] == ["d_lr", "d_steps", "loss"]
    loss = next(f for f in gan["training_fields"] if f["name"] == "loss")["schema"]
    assert loss["anyOf"][0]["enum"] == ["standard", "wasserstein_gp"]  # the choices, for the page's select
    assert {v["kind"] for v in gan["views"]} == {"gan_samples", "mode_coverage", "weights"}
    data = {d["name"]: d for d in cat["datasets"]}
    assert data["ring"]["label"] == "Ring" and data["grid"]["label"] == "Grid"
    assert all("generation" in data[n]["tasks"] for n in ("ring", "grid", "moons", "spiral"))
    assert "generation" not in data["digits"]["tasks"]
    assert "adam_gan" in {o["name"] for o in cat["optimizers"]}
    classification = next(t for t in cat["tasks"] if t["name"] == "classification")
    assert classification["early_stopping"] is None and classification["training_fields"] == []
    r = client.post("/api/validate", json={**GAN, "training": {**GAN["training"], "early_stopping": {"patience": 3}}})
    assert r.status_code == 422 and "lowest distance" in r.text


def test_a_gan_run_streams_its_columns_and_views(make_live) -> None:
    live: LiveServer = make_live()
    run_id = live.api.create(GAN)["id"]
    s = live.stream(run_id)
    try:
        s.until(lambda m: m["type"] == "end", timeout=90)
    finally:
        s.close()
    batches = [m for m in s.messages if m["type"] == "metrics"]
    assert batches and all(c in batches[0] for c in COLUMNS) and "train_loss" not in batches[0]
    kinds = {m["kind"] for m in s.messages if m["type"] == "snapshot"}
    assert {"gan_samples", "mode_coverage"} <= kinds
    run = live.api.run(run_id)
    assert run["status"] == "finished" and len(run["history"]["distance"]) == 12
    best = run["history"]["distance"].index(min(run["history"]["distance"])) + 1
    end = s.messages[-1]
    assert end["best_epoch"] == best and end["val_loss"] == run["history"]["distance"][-1]


def test_a_gan_saves_shares_forks_and_exports(sapi, client, tmp_path: Path) -> None:
    s = sapi.create("GAN", spec_body=GAN)
    run = sapi.run(s, GAN)
    done = sapi.wait_done(run["id"], timeout=90)
    assert done["status"] == "finished"
    saved = sapi.wait_saved(s, run["id"])
    assert saved["has_weights"] and done["spec"]["training"]["d_lr"] == 0.004
    shared = sapi.shared(s)
    assert shared["runs"][0]["history"]["modes_covered"] == done["history"]["modes_covered"]
    fork = sapi.fork(s)
    forked = sapi.get(fork)
    assert forked["spec"]["model"]["latent_dim"] == 2 and len(forked["runs"]) == 1
    assert forked["runs"][0]["history"]["distance"] == done["history"]["distance"]
    r = client.get(f"/api/runs/{run['id']}/export.py")
    assert r.status_code == 200, r.text
    path = tmp_path / "gan.py"
    path.write_text(r.text)
    proc = subprocess.run([sys.executable, str(path), "--json", "--quiet"], capture_output=True, text=True,
                          timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    script: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    for c in COLUMNS:
        assert all(a is b is None or abs(a - b) <= 1e-5 for a, b in zip(script[c], done["history"][c])), c

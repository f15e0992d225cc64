"""The reconstruction family (autoencoders): its spec, its loop against a plain PyTorch autoencoder
written here, its views, its exported script, its diagnosis, and what it learns on digits."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import torch
from torch import nn

from engine.catalog import catalog
from engine.data import build_split
from engine.errors import ShapeError, SpecError
from engine.export import export_script
from engine.families.reconstruction import DIGITS_AE, DIGITS_DAE
from engine.shapes import infer
from engine.spec import apply_patch, merge_patch, parse_spec
from engine.trainer import Trainer
from engine.viewkinds.autoencoder import project
from engine.views import ViewData, applying, take
from engine.data import data_info


def ae(patch: dict[str, Any] | None = None) -> Any:
    """A small autoencoder (a 16-unit decoder, 3 epochs on 300 digits) with a merge patch."""
    base = {"task": "reconstruction", "data": {"dataset": "digits", "n_samples": 300, "seed": 4},
            "model": {"latent_dim": 3, "encoder": {"layers": [{"type": "flatten"},
                                                              {"type": "dense", "units": 16, "activation": "relu"}]},
                      "decoder": {"layers": [{"type": "dense", "units": 16, "activation": "tanh"}]}},
            "training": {"optimizer": "adam", "lr": 0.01, "batch_size": 32, "epochs": 3, "seed": 5, "device": "cpu"}}
    return parse_spec(merge_patch(base, patch or {}))


def errors(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SpecError) as e:
        parse_spec(raw)
    return {i.path: i.message for i in e.value.errors}


# -- spec and shapes ------------------------------------------------------------------------------------
def test_the_heads_are_rows_and_the_decoder_ends_shaped_like_the_input() -> None:
    s = infer(ae())
    enc, dec = s.stacks["encoder"], s.stacks["decoder"]
    assert enc[-1].is_head and enc[-1].output_shape == (3,) and enc[-1].path == "model.encoder.head"
    assert dec[-1].is_head and dec[-1].output_shape == (1, 8, 8) and dec[-1].params == 16 * 64 + 64
    assert [r.stack for r in s.rows] == ["encoder"] * 3 + ["decoder"] * 2


def test_an_empty_encoder_is_linear_and_a_bad_layer_names_its_stack() -> None:
    s = infer(ae({"model": {"encoder": {"layers": []}}}))
    assert s.stacks["encoder"][0].input_shape == (64,)  # the image flattened into the head
    with pytest.raises(ShapeError) as e:
        infer(ae({"model": {"encoder": {"layers": [{"type": "dense", "units": 8}]}}}))
    assert e.value.errors[0].path == "model.encoder.layers[0]"


def test_denoise_is_refused_elsewhere_and_the_family_refuses_sequences() -> None:
    raw = {"data": {"dataset": "circle"}, "model": {"layers": []}, "training": {"denoise": 0.2}}
    assert "only tasks reconstruction" in " ".join(errors(raw).values())
    raw = {"task": "reconstruction", "data": {"dataset": "sequences"},
           "model": {"encoder": {"layers": []}, "decoder": {"layers": []}}}
    assert "reconstruction" in " ".join(errors(raw).values())
    assert ae({"training": {"denoise": 0.3}}).training.denoise == 0.3
    assert "denoise" not in ae().to_json()["training"]


def test_the_catalog_describes_the_family() -> None:
    entry = next(t for t in catalog()["tasks"] if t["name"] == "reconstruction")
    assert [s["label"] for s in entry["stacks"]] == ["Encoder layers", "Decoder layers"]
    assert [o["name"] for o in entry["options"]] == ["latent_dim"]
    assert [f["name"] for f in entry["training_fields"]] == ["denoise"]
    assert {"reconstructions", "latent_space", "latent_walk"} <= {v["kind"] for v in entry["views"]}
    assert entry["empty_model"] == {"encoder": {"layers": []}, "latent_dim": 2, "decoder": {"layers": []}}
    digits = next(d for d in catalog()["datasets"] if d["name"] == "digits")
    assert "reconstruction" in digits["tasks"]
    assert {"digits_autoencoder", "digits_denoising"} <= {p["name"] for p in catalog()["presets"]}


# -- the loop against plain PyTorch ---------------------------------------------------------------------
def plain_autoencoder(spec: Any) -> dict[str, list]:
    """The textbook denoising autoencoder loop, written from the protocol in engine/families/ae_step.py."""
    t, s = spec.training, spec.training.denoise or 0.0
    split = build_split(spec.data, "reconstruction")
    torch.manual_seed(t.seed)
    encoder = nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(64, 16), nn.ReLU()), nn.Linear(16, 3))
    decoder = nn.Sequential(nn.Sequential(nn.Linear(3, 16), nn.Tanh()),
                            nn.Sequential(nn.Linear(16, 64), nn.Unflatten(1, (1, 8, 8))))
    params = list(encoder.parameters()) + list(decoder.parameters())
    opt = torch.optim.Adam(params, lr=t.lr)
    shuffle = torch.Generator().manual_seed(t.seed)
    noise = torch.Generator().manual_seed(t.seed + 2)
    x_val = split.x_val
    val_in = x_val + s * torch.randn(*x_val.shape, generator=torch.Generator().manual_seed(t.seed + 3)) if s else x_val
    hist: dict[str, list] = {"train_loss": [], "val_loss": []}
    for _ in range(t.epochs):
        order = torch.randperm(len(split.x_train), generator=shuffle)
        xs = split.x_train[order]
        total = 0.0
        for i in range(0, len(xs), t.batch_size):
            xb = xs[i:i + t.batch_size]
            inp = xb + s * torch.randn(xb.shape, generator=noise) if s else xb
            loss = nn.functional.mse_loss(decoder(encoder(inp)), xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(xb)
        hist["train_loss"].append(total / len(xs))
        with torch.no_grad():
            hist["val_loss"].append(nn.functional.mse_loss(decoder(encoder(val_in)), x_val).item())
    return hist


@pytest.mark.parametrize("denoise", [None, 0.3])
def test_the_engine_matches_a_plain_pytorch_autoencoder(denoise: Any) -> None:
    spec = ae({"training": {"denoise": denoise}})
    t = Trainer(spec)
    t.run()
    ref = plain_autoencoder(spec)
    assert t.history["train_loss"] == pytest.approx(ref["train_loss"], rel=1e-5)
    assert t.history["val_loss"] == pytest.approx(ref["val_loss"], rel=1e-5)
    noisy = t.history["noisy_loss"]
    assert (noisy == [None] * 3) if denoise is None else noisy[0] == pytest.approx(0.09, rel=0.1)


def test_the_baseline_is_the_mean_input() -> None:
    t = Trainer(ae())
    x = t.split.x_train
    assert t.baseline == pytest.approx(float(((x - x.mean(0)) ** 2).mean()))


# -- views --------------------------------------------------------------------------------------------------
def snapshots(spec: Any) -> tuple[Trainer, dict[str, dict]]:
    t = Trainer(spec)
    t.run(epochs=2)
    data = ViewData(t.split, t.summary, spec=spec)
    return t, {v.kind: take(v, t.model, data, 2) for v in applying(t.family, data_info(spec.data))}


def test_the_views_of_a_denoising_autoencoder() -> None:
    t, snaps = snapshots(ae({"training": {"denoise": 0.3}}))
    assert {"reconstructions", "latent_space", "latent_walk"} <= set(snaps)
    r = snaps["reconstructions"]
    assert r["image"] and len(r["clean"]) == len(r["noisy"]) == len(r["recon"]) == 8
    assert len(r["recon"][0]) == 8 and len(r["recon"][0][0]) == 8  # (H, W) images
    assert r["noisy_mse"] == pytest.approx(0.09, rel=0.25)
    lat = snaps["latent_space"]
    assert lat["pca"] and len(lat["explained"]) == 2 and len(lat["points"]) == len(lat["labels"]) == 90
    assert snaps["latent_walk"]["images"] == []  # only a 2-D code has a plane to walk


def test_a_two_d_code_is_walked_and_not_projected() -> None:
    _, snaps = snapshots(ae({"model": {"latent_dim": 2}}))
    assert not snaps["latent_space"]["pca"] and snaps["latent_space"]["explained"] == []
    walk = snaps["latent_walk"]
    assert walk["n"] == 9 and len(walk["images"]) == 81 and len(walk["images"][0]) == 8


def test_pca_keeps_the_widest_directions() -> None:
    g = torch.Generator().manual_seed(0)
    codes = torch.randn(500, 4, generator=g) * torch.tensor([5.0, 2.0, 0.1, 0.1])
    pts, share = project(codes)
    assert pts.shape == (500, 2) and share[0] > share[1] > 0.1 and sum(share) > 0.99


# -- export -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("patch", [
    {"training": {"denoise": 0.3, "l2": 1e-4}},
    {"model": {"encoder": {"layers": []}, "decoder": {"layers": [{"type": "dense", "units": 16, "activation": "relu"},
                                                                 {"type": "dropout", "p": 0.2}]}}},
    {"data": {"dataset": "moons", "n_samples": 200}, "model": {"latent_dim": 1, "encoder": {"layers": [
        {"type": "dense", "units": 8, "activation": "relu"}]}}},
])
def test_the_exported_script_replays_the_run(tmp_path, patch: dict[str, Any]) -> None:
    spec = ae(patch)
    t = Trainer(spec)
    t.run()
    path = tmp_path / "ae_run.py"
    path.write_text(export_script(spec))
    out = subprocess.run([sys.executable, str(path), "--json", "--quiet"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    hist = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("train_loss", "val_loss"):
        assert hist[key] == pytest.approx(t.history[key], rel=1e-6), key
    noisy = t.history["noisy_loss"]
    assert hist["noisy_loss"] == (noisy if noisy[0] is None else pytest.approx(noisy, rel=1e-6))


# -- diagnosis ----------------------------------------------------------------------------------------------
def test_a_code_as_wide_as_the_input_is_told_it_can_learn_the_identity() -> None:
    spec = ae({"model": {"latent_dim": 64}, "training": {"epochs": 12}})
    t = Trainer(spec)
    t.run()
    d = t.family.diagnose(t.history, spec, t.baseline, None, t.best_epoch)
    assert "identity" in d.reason and "64 units for 64 input features" in d.reason
    ids = [r.id for r in d.remedies]
    assert ids[:2] == ["smaller_latent", "add_denoise"]
    assert d.cause == "identity" or "identity" in d.also
    for r in d.remedies:  # each remedy forks a valid run
        infer(apply_patch(spec, r.patch))
    quiet = ae({"model": {"latent_dim": 64}, "training": {"epochs": 12, "denoise": 0.2}})
    t2 = Trainer(quiet)
    t2.run()
    assert "identity" not in t2.family.diagnose(t2.history, quiet, t2.baseline, None, t2.best_epoch).reason


def test_size_remedies_edit_both_stacks() -> None:
    from engine.remedies import resize_model
    r = resize_model(ae(), 2.0)
    assert r is not None
    assert r.patch["model"]["encoder"]["layers"][1]["units"] == 32
    assert r.patch["model"]["decoder"]["layers"][0]["units"] == 32
    infer(apply_patch(ae(), r.patch))


# -- learning outcomes ---------------------------------------------------------------------------------------
def preset_run(base: dict[str, Any], seed: int, **training: Any) -> Trainer:
    spec = parse_spec(merge_patch(base, {"training": {"seed": seed, "device": "cpu", **training}}))
    t = Trainer(spec)
    t.run()
    return t


@pytest.mark.outcome
@pytest.mark.parametrize("seed", [0, 1])
def test_the_digits_autoencoder_more_than_halves_its_validation_loss(seed: int) -> None:
    t = preset_run(DIGITS_AE, seed)
    val = t.history["val_loss"]
    end = sum(val[-5:]) / 5  # a window mean, not one epoch
    assert end < 0.5 * val[0], (val[0], end)
    assert end < 0.6 * t.baseline


def knn_accuracy(codes: torch.Tensor, labels: torch.Tensor, k: int = 5) -> float:
    """Leave-one-out k-NN accuracy of the labels from the codes."""
    d = torch.cdist(codes, codes)
    d.fill_diagonal_(float("inf"))
    near = d.topk(k, largest=False).indices  # (N, k)
    votes = torch.nn.functional.one_hot(labels[near], 10).sum(dim=1)  # (N, 10)
    return float((votes.argmax(dim=1) == labels).float().mean())


@pytest.mark.outcome
@pytest.mark.parametrize("seed", [0, 1])
def test_a_two_d_code_separates_digit_classes(seed: int) -> None:
    t = preset_run(DIGITS_AE, seed)
    with torch.no_grad():
        codes = t.model.eval().encoder(t.split.x_val)
    acc = knn_accuracy(codes, t.split.y_val)
    assert acc > 0.4, acc  # chance is 0.1 on ten balanced classes


@pytest.mark.outcome
@pytest.mark.parametrize("seed", [0, 1])
def test_a_denoising_autoencoder_beats_the_identity_on_noisy_input(seed: int) -> None:
    t = preset_run(DIGITS_DAE, seed, epochs=30)
    val, noisy = t.history["val_loss"], t.history["noisy_loss"]
    assert sum(val[-5:]) / 5 < 0.5 * noisy[-1], (val[-5:], noisy[-1])


# -- inside the network -----------------------------------------------------------------------------------
def test_the_encoder_and_decoder_get_rows_measured_by_the_reconstruction_error() -> None:
    """Inside the network for an autoencoder: rows per stack from the stack names, and the gradients are
    those of the clean probe batch's reconstruction error, checked against plain autograd."""
    import torch.nn.functional as F

    from engine.events import SnapshotEvent
    from engine.insides import Insides

    trainer = Trainer(ae())
    events: list = []
    trainer.run(emit=events.append)
    view = [e.data for e in events if isinstance(e, SnapshotEvent) and e.kind == "insides"][-1]
    stacks = [l["stack"] for l in view["layers"]]
    assert set(stacks) == {"encoder", "decoder"} and stacks == sorted(stacks, key=["encoder", "decoder"].index)
    x = trainer.split.x_train[Insides.probe_rows(len(trainer.split.x_train))]
    model = trainer.model
    model.eval()
    loss = F.mse_loss(model(x), x)
    last_enc = max(i for i, s in enumerate(stacks) if s == "encoder")  # the latent head: the encoder's last row
    (g,) = torch.autograd.grad(loss, [model.encoder[-1].weight])
    assert view["layers"][last_enc]["grad_norm"][-1] == pytest.approx(float(g.norm()), rel=1e-3)

"""training.seeds (issue 16): its bounds and refusals, its columns, the diagnosis' seed spread and the
remedies, which fork the whole ensemble."""

from __future__ import annotations

import math
from statistics import mean
from typing import Any

import pytest

from engine.catalog import catalog
from engine.diagnosis import diagnose
from engine.errors import SpecError
from engine.events import DiagnosisEvent
from engine.family import FAMILIES, columns_of
from engine.shapes import infer
from engine.spec import Limits, apply_patch, parse_spec
from engine.trainer import Trainer

L0 = math.log(2)
CIRCLE = {"data": {"dataset": "circle"}, "model": {"layers": [{"type": "dense", "units": 8}]}}


def errors(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(SpecError) as e:
        infer(parse_spec(raw))
    return {i.path: i.message for i in e.value.errors}


@pytest.mark.parametrize("seeds", [0, 17, -1])
def test_seeds_out_of_bounds_is_an_error_at_its_path(seeds: int) -> None:
    assert "training.seeds" in errors({**CIRCLE, "training": {"seeds": seeds}})


def test_one_to_sixteen_seeds_validate_and_one_is_not_written_out() -> None:
    assert "seeds" not in parse_spec(CIRCLE).to_json()["training"]
    assert "seeds" not in parse_spec({**CIRCLE, "training": {"seeds": 1}}).to_json()["training"]
    spec = parse_spec({**CIRCLE, "training": {"seeds": 16}})
    assert spec.to_json()["training"]["seeds"] == 16
    assert parse_spec(spec.to_json()) == spec


@pytest.mark.parametrize("raw", [
    {"task": "generation", "data": {"dataset": "ring"},
     "model": {"generator": {"layers": []}, "discriminator": {"layers": []}}, "training": {"seeds": 2}},
    {"task": "reconstruction", "data": {"dataset": "digits"},
     "model": {"encoder": {"layers": []}, "decoder": {"layers": []}}, "training": {"seeds": 2}},
])
def test_families_without_ensembles_refuse_seeds_at_the_path(raw: dict[str, Any]) -> None:
    errs = errors(raw)
    assert list(errs) == ["training.seeds"]
    assert "trains no ensembles" in errs["training.seeds"] and "Set training.seeds to 1" in errs["training.seeds"]
    raw["training"]["seeds"] = 1
    parse_spec(raw)  # one seed is every family's


def test_the_parameter_cap_counts_every_member() -> None:
    raw = {**CIRCLE, "model": {"layers": [{"type": "dense", "units": 100}]}, "training": {"seeds": 8}}
    with pytest.raises(SpecError) as e:
        infer(parse_spec(raw), Limits(max_params=3000))  # 502 parameters a member, 4016 for 8
    assert [i.path for i in e.value.errors] == ["training.seeds"]
    infer(parse_spec({**raw, "training": {"seeds": 4}}), Limits(max_params=3000))


def test_columns_and_catalog_name_the_spread() -> None:
    single, ens = parse_spec(CIRCLE), parse_spec({**CIRCLE, "training": {"seeds": 3}})
    assert columns_of("classification", single) == columns_of("classification")
    assert columns_of("classification", ens) == ("epoch", "train_loss", "val_loss", "train_acc", "val_acc",
                                                 "train_loss_sd", "val_loss_sd", "train_acc_sd", "val_acc_sd",
                                                 "lr", "step_time")
    forecast = FAMILIES.get("forecasting")
    assert "naive_val_loss_sd" not in forecast.columns_for(parse_spec(
        {"data": {"dataset": "sequences"}, "model": {"layers": []}, "training": {"seeds": 2}}))
    tasks = {t["name"]: t for t in catalog()["tasks"]}
    assert tasks["classification"]["ensemble"] is None
    assert tasks["classification"]["spread"] == ["train_loss_sd", "val_loss_sd", "train_acc_sd", "val_acc_sd"]
    assert tasks["generation"]["ensemble"] and tasks["reconstruction"]["ensemble"]


def test_the_summary_says_how_the_ensemble_trains() -> None:
    fused = infer(parse_spec({**CIRCLE, "training": {"seeds": 4, "device": "cpu"}}))
    assert fused.engine == "fused-dense" and "4 seeds in batched matmuls" in fused.engine_why
    looped = infer(parse_spec({**CIRCLE, "model": {"layers": [{"type": "dense", "units": 8},
                                                              {"type": "dropout", "p": 0.2}]},
                               "training": {"seeds": 4, "device": "cpu"}}))
    assert looped.engine == "autograd" and "the 4 seeds train one after another" in looped.engine_why


# -- the diagnosis: the gap against the seed spread ---------------------------------------------------
def _hist(train: list[float], val: list[float], sd: float) -> dict[str, list]:
    n = len(train)
    return {"epoch": list(range(1, n + 1)), "train_loss": train, "val_loss": val,
            "train_acc": [None] * n, "val_acc": [None] * n,
            "train_loss_sd": [sd] * n, "val_loss_sd": [sd] * n, "lr": [0.01] * n, "step_time": [0.001] * n}


OVERFIT_TRAIN = [0.5 - 0.0045 * i for i in range(100)]
OVERFIT_VAL = [0.5 - 0.01 * i if i < 30 else 0.21 + 0.005 * (i - 29) for i in range(100)]


def test_a_gap_far_over_the_seed_spread_is_real_overfitting() -> None:
    spec = parse_spec({**CIRCLE, "training": {"seeds": 4}})
    d = diagnose(_hist(OVERFIT_TRAIN, OVERFIT_VAL, 0.03), spec, L0)
    assert d.verdict == "overfitting"
    gap = d.facts["gap"]
    assert d.facts["seeds"] == 4 and d.facts["seed_spread"] == pytest.approx(0.03)
    assert d.facts["gap_over_spread"] == pytest.approx(gap / 0.03)
    assert f"Over 4 seeds the gap {gap:.3g}" in d.reason
    assert f"is {gap / 0.03:.0f}× the seed spread 0.03" in d.reason
    assert d.reason.endswith("real overfitting, not noise.")


def test_a_gap_within_the_seed_spread_is_not_significant() -> None:
    spec = parse_spec({**CIRCLE, "training": {"seeds": 4}})
    d = diagnose(_hist(OVERFIT_TRAIN, OVERFIT_VAL, 0.5), spec, L0)
    assert "is within the seed spread 0.5" in d.reason and d.reason.endswith("not significant.")


def test_a_single_run_says_nothing_of_seeds() -> None:
    h = _hist(OVERFIT_TRAIN, OVERFIT_VAL, 0.03)
    d = diagnose(h, parse_spec(CIRCLE), L0)
    assert "seed" not in d.reason and "seed_spread" not in d.facts


def test_remedies_fork_the_whole_ensemble() -> None:
    spec = parse_spec({**CIRCLE, "training": {"seeds": 4}})
    single = diagnose(_hist(OVERFIT_TRAIN, OVERFIT_VAL, 0.03), parse_spec(CIRCLE), L0)
    d = diagnose(_hist(OVERFIT_TRAIN, OVERFIT_VAL, 0.03), spec, L0)
    # Every remedy of a single run is offered to the ensemble too (dropout included: its members
    # train in turn), and each patched spec is still an ensemble of 4.
    assert [r.id for r in d.remedies] == [r.id for r in single.remedies] and d.remedies
    for r in d.remedies:
        patched = apply_patch(spec, r.patch)
        infer(patched)
        assert patched.training.seeds == 4, r.id


@pytest.mark.outcome
def test_an_overfitting_ensemble_says_its_gap_is_not_noise() -> None:
    spec = parse_spec({"data": {"dataset": "spiral", "n_samples": 60, "noise": 0.3, "seed": 2},
                       "model": {"layers": [{"type": "dense", "units": 64, "activation": "relu"}] * 2},
                       "training": {"epochs": 250, "seeds": 4, "device": "cpu"}})
    trainer = Trainer(spec)
    events: list = []
    trainer.run(emit=events.append)
    d = [e.diagnosis for e in events if isinstance(e, DiagnosisEvent)][-1]
    h = trainer.history
    last = slice(-25, None)
    # Window means, not the last epoch: the members' ends are chaotic and kernel-dependent.
    gap = mean(h["val_loss"][last]) - mean(h["train_loss"][last])
    assert gap > 3 * mean(h["val_loss_sd"][last])
    assert d.verdict == "overfitting" and d.facts["gap_over_spread"] > 3
    assert "not noise" in d.reason
    assert all(v is not None and v >= 0 for v in h["train_loss_sd"])


def test_the_export_script_trains_member_zero_and_says_so() -> None:
    from engine.export import export_script
    script = export_script(parse_spec({**CIRCLE, "training": {"seeds": 5, "seed": 2}}))
    assert "an ensemble of 5 seeds" in script and "trains member 0, the run of SEED" in script
    assert "SEED = 2\n" in script
    assert "ensemble" not in export_script(parse_spec(CIRCLE))
    compile(script, "run.py", "exec")

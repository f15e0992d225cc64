"""Sequence data: windows (T, 1) and the next H values, train and validation from different series,
and the fields, tasks and layers that go with them."""

from __future__ import annotations

import pytest
import torch

from engine.data import build_split, data_info
from engine.errors import SpecError
from engine.families.forecasting import naive_loss
from engine.shapes import infer
from engine.spec import DataSpec, parse_spec

LSTM = {"layers": [{"type": "lstm", "units": 8}]}


@pytest.mark.parametrize("name", ["sequences", "square"])
def test_windows_are_the_series_and_targets_what_follows(name):
    split = build_split(DataSpec(dataset=name, n_samples=200, noise=0.0, window=12, horizon=3, seed=2), "forecasting")
    assert split.x_train.shape == (140, 12, 1) and split.y_train.shape == (140, 3)
    assert split.x_val.shape == (60, 12, 1) and split.y_val.shape == (60, 3)
    # Consecutive windows of one series slide by one step: the next window ends on the first target.
    x, y = split.x_train[:, :, 0], split.y_train
    torch.testing.assert_close(x[1:5, -1], y[0:4, 0])
    torch.testing.assert_close(x[1:5, :-1], x[0:4, 1:])


def test_validation_windows_come_from_other_series():
    split = build_split(DataSpec(dataset="sequences", n_samples=600, noise=0.0, seed=4), "forecasting")
    train = {tuple(w) for w in split.x_train[:, :, 0].round(decimals=5).tolist()}
    val = {tuple(w) for w in split.x_val[:, :, 0].round(decimals=5).tolist()}
    assert not train & val  # not one validation window is also a training window


def test_seed_and_noise_change_the_data():
    base = dict(dataset="sequences", n_samples=100)
    a = build_split(DataSpec(**base, seed=1), "forecasting")
    b = build_split(DataSpec(**base, seed=2), "forecasting")
    c = build_split(DataSpec(**base, seed=1, noise=0.0), "forecasting")
    assert not torch.equal(a.x_train, b.x_train) and not torch.equal(a.x_train, c.x_train)
    torch.testing.assert_close(a.x_train, build_split(DataSpec(**base, seed=1), "forecasting").x_train)


def test_defaults_window_30_horizon_1_and_the_natural_task():
    spec = parse_spec({"data": {"dataset": "sequences"}, "model": LSTM})
    assert spec.task == "forecasting"
    info = data_info(spec.data)
    assert info.input_shape == (30, 1) and info.target_dim == 1 and info.kind == "sequence"
    summary = infer(spec)
    assert summary.rows[-1].output_shape == (1,) and summary.rows[0].output_shape == (8,)
    # The spec reads as written: no null window or horizon appear in it.
    assert "window" not in spec.to_json()["data"]


def test_only_sequence_data_takes_window_and_horizon():
    with pytest.raises(SpecError) as e:
        parse_spec({"data": {"dataset": "circle", "window": 10}, "model": {"layers": []}})
    assert {i.path: i.message for i in e.value.errors}["data.window"] == \
        "dataset 'circle' takes no window; only sequence data does"


def test_forecasting_needs_sequence_data_and_says_which():
    with pytest.raises(SpecError) as e:
        parse_spec({"task": "forecasting", "data": {"dataset": "sine"}, "model": {"layers": []}})
    assert "choose a sequence dataset, such as `sequences`" in str(e.value.errors[0].message)


def test_a_recurrent_layer_on_flat_data_says_to_choose_sequence_data():
    with pytest.raises(SpecError) as e:
        infer(parse_spec({"data": {"dataset": "circle"}, "model": {"layers": [{"type": "gru"}]}}))
    item = e.value.errors[0]
    assert item.path == "model.layers[0]"
    assert "choose a sequence dataset, such as `sequences`" in item.message


def test_a_recurrent_stack_ending_in_a_sequence_needs_flatten_before_the_head():
    layers = [{"type": "lstm", "units": 4, "return_sequences": True}]
    with pytest.raises(SpecError) as e:
        infer(parse_spec({"data": {"dataset": "sequences", "window": 10}, "model": {"layers": layers}}))
    assert e.value.errors[0].fix["layer"] == {"type": "flatten"}
    summary = infer(parse_spec({"data": {"dataset": "sequences", "window": 10},
                                "model": {"layers": layers + [{"type": "flatten"}, {"type": "dense", "units": 5}]}}))
    assert [r.output_shape for r in summary.rows] == [(10, 4), (40,), (5,), (1,)]


def test_naive_loss_repeats_the_last_value():
    x = torch.tensor([[[0.0], [1.0]], [[2.0], [3.0]]])  # (2, T=2, 1)
    y = torch.tensor([[1.0, 3.0], [3.0, 5.0]])  # (2, H=2)
    assert naive_loss(x, y) == pytest.approx((0 + 4 + 0 + 4) / 4)


def test_an_empty_stack_on_sequence_data_is_a_linear_forecast():
    # [] is a linear model on any data (docs/spec.md): the (30, 1) window is flattened into the head.
    summary = infer(parse_spec({"data": {"dataset": "sequences"}, "model": {"layers": []}}))
    (head,) = summary.rows
    assert head.path == "model.head" and head.input_shape == (30,) and head.output_shape == (1,)
    assert summary.total_params == 30 + 1
    # A stack that ends in a sequence still needs a flatten, and says so with a fix.
    with pytest.raises(SpecError) as e:
        infer(parse_spec({"data": {"dataset": "sequences"},
                          "model": {"layers": [{"type": "lstm", "units": 4, "return_sequences": True}]}}))
    item = e.value.errors[0]
    assert item.path == "model.layers[0]" and item.fix["layer"] == {"type": "flatten"}

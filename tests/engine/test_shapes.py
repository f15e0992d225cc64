"""Shape inference and parameter counts against the real torch modules, and the error paths.

Every expected shape and count in CASES is worked out by hand from the layer's formula; the
test also builds the module, runs a forward pass and counts torch's own parameters.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from pydantic import TypeAdapter

from engine.errors import ShapeError, SpecError
from engine.layers import LAYERS, LayerSpec, ShapeProblem
from engine.model import build_model
from engine.shapes import infer
from engine.spec import Limits, LayerSpec as LayerUnion, merge_patch, parse_spec

LAYER = TypeAdapter(LayerUnion)

# (layer, input shape, expected output shape, expected parameter count)
CASES: list[tuple[dict[str, Any], tuple[int, ...], tuple[int, ...], int]] = [
    # dense: in*units + units
    ({"type": "dense", "units": 16}, (2,), (16,), 2 * 16 + 16),
    ({"type": "dense", "units": 3, "activation": "tanh"}, (64,), (3,), 64 * 3 + 3),
    # conv2d: C_in*F*k*k + F; out = (H + 2p - k) // s + 1
    ({"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": "same"}, (1, 8, 8), (8, 8, 8), 1 * 8 * 9 + 8),
    ({"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": "valid"}, (1, 8, 8), (4, 6, 6), 4 * 9 + 4),
    ({"type": "conv2d", "filters": 4, "kernel_size": 3, "stride": 2, "padding": "same"}, (1, 8, 8), (4, 4, 4), 40),
    ({"type": "conv2d", "filters": 4, "kernel_size": 3, "stride": 2, "padding": "valid"}, (1, 8, 8), (4, 3, 3), 40),
    ({"type": "conv2d", "filters": 2, "kernel_size": 5, "padding": 1}, (3, 8, 8), (2, 6, 6), 3 * 2 * 25 + 2),
    ({"type": "conv2d", "filters": 2, "kernel_size": 1, "padding": 0}, (5, 3, 4), (2, 3, 4), 5 * 2 + 2),
    # 'same' pads kernel_size // 2 on each side, so an even kernel grows the image by one.
    ({"type": "conv2d", "filters": 3, "kernel_size": 4, "padding": "same"}, (1, 8, 8), (3, 9, 9), 16 * 3 + 3),
    # pooling: out = (H - k) // s + 1 with s defaulting to k; no parameters
    ({"type": "maxpool2d"}, (4, 8, 8), (4, 4, 4), 0),
    ({"type": "maxpool2d", "kernel_size": 3, "stride": 2}, (2, 7, 7), (2, 3, 3), 0),
    ({"type": "maxpool2d", "kernel_size": 2}, (1, 5, 5), (1, 2, 2), 0),
    ({"type": "avgpool2d"}, (3, 6, 6), (3, 3, 3), 0),
    ({"type": "avgpool2d", "kernel_size": 3, "stride": 1}, (2, 5, 4), (2, 3, 2), 0),
    # flatten
    ({"type": "flatten"}, (4, 4, 4), (64,), 0),
    ({"type": "flatten"}, (5, 3), (15,), 0),
    ({"type": "flatten"}, (7,), (7,), 0),
    # dropout keeps the shape
    ({"type": "dropout", "p": 0.5}, (7,), (7,), 0),
    ({"type": "dropout"}, (2, 4, 4), (2, 4, 4), 0),
    # batchnorm: a scale and a shift per feature / channel (running stats are buffers)
    ({"type": "batchnorm"}, (8,), (8,), 2 * 8),
    ({"type": "batchnorm", "activation": "relu"}, (3, 4, 4), (3, 4, 4), 2 * 3),
    ({"type": "batchnorm"}, (5, 6), (5, 6), 2 * 6),
    # recurrent: gates * (H*F + H*H + 2H), torch keeping two bias vectors
    ({"type": "rnn", "units": 4}, (5, 3), (4,), 4 * 3 + 4 * 4 + 2 * 4),
    ({"type": "rnn", "units": 4, "return_sequences": True}, (5, 3), (5, 4), 36),
    ({"type": "lstm", "units": 4}, (5, 3), (4,), 4 * 36),
    ({"type": "lstm", "units": 6, "return_sequences": True}, (7, 2), (7, 6), 4 * (6 * 2 + 36 + 12)),
    ({"type": "gru", "units": 4}, (5, 3), (4,), 3 * 36),
    ({"type": "gru", "units": 2, "return_sequences": True}, (3, 1), (3, 2), 3 * (2 + 4 + 4)),
]


def _id(case) -> str:
    layer, shape = case[0], case[1]
    extra = ",".join(f"{k}={v}" for k, v in layer.items() if k != "type")
    return f"{layer['type']}[{extra}]{shape}"


def test_every_registered_layer_type_has_a_case():
    assert set(LAYERS.names()) <= {c[0]["type"] for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_inferred_shape_and_params_match_torch(case):
    raw, in_shape, want_shape, want_params = case
    layer: LayerSpec = LAYER.validate_python(raw)
    out_shape, params = layer.infer(in_shape, 0)
    assert (out_shape, params) == (want_shape, want_params)

    module = layer.build(in_shape)
    assert sum(p.numel() for p in module.parameters()) == want_params
    module.train()
    x = torch.randn(3, *in_shape, generator=torch.Generator().manual_seed(0))
    assert tuple(module(x).shape) == (3, *want_shape)
    module.eval()
    assert tuple(module(x).shape) == (3, *want_shape)


@pytest.mark.parametrize("dataset,layers", [
    ("circle", []),
    ("circle", [{"type": "dense", "units": 8, "activation": "tanh"}, {"type": "dropout"},
                {"type": "batchnorm"}, {"type": "dense", "units": 5}]),
    ("sine", [{"type": "dense", "units": 4}]),
    ("digits", [{"type": "flatten"}, {"type": "dense", "units": 32}]),
    ("digits", [{"type": "conv2d", "filters": 6}, {"type": "batchnorm"}, {"type": "maxpool2d"},
                {"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": "valid", "stride": 1},
                {"type": "avgpool2d"}, {"type": "flatten"}, {"type": "dropout", "p": 0.1},
                {"type": "dense", "units": 12}]),
])
def test_whole_model_rows_match_the_built_modules(dataset, layers):
    spec = parse_spec({"data": {"dataset": dataset}, "model": {"layers": layers}})
    summary = infer(spec)
    model = build_model(spec, summary)
    assert len(model) == len(layers) + 1 == len(summary.rows)
    for row, child in zip(summary.rows, model):
        assert row.params == sum(p.numel() for p in child.parameters()), row
    assert summary.total_params == sum(p.numel() for p in model.parameters())
    x = torch.randn(4, *summary.input_shape)
    out = model(x)
    assert tuple(out.shape[1:]) == summary.rows[-1].output_shape
    # Each row's input is the previous row's output, starting from the data's input shape.
    shapes = [summary.input_shape] + [r.output_shape for r in summary.rows]
    assert [r.input_shape for r in summary.rows] == shapes[:-1]


def test_head_follows_the_task():
    digits = infer(parse_spec({"data": {"dataset": "digits"}, "model": {"layers": [{"type": "flatten"}]}}))
    assert digits.rows[-1].is_head and digits.rows[-1].output_shape == (10,)
    assert digits.rows[-1].params == 64 * 10 + 10
    sine = infer(parse_spec({"data": {"dataset": "sine"}, "model": {"layers": []}}))
    assert sine.rows[-1].output_shape == (1,) and sine.total_params == 2


def test_empty_layer_list_is_a_linear_model():
    spec = parse_spec({"data": {"dataset": "circle"}, "model": {"layers": []}})
    summary = infer(spec)
    assert len(summary.rows) == 1 and summary.rows[0].is_head
    assert summary.total_params == 2 * 2 + 2
    model = build_model(spec, summary)
    assert [type(m).__name__ for m in model] == ["Linear"]
    assert "total parameters: 6" in summary.table()


def test_summary_table_lists_every_layer_and_the_total():
    spec = parse_spec({"data": {"dataset": "digits"},
                       "model": {"layers": [{"type": "conv2d", "filters": 4}, {"type": "flatten"}]}})
    table = infer(spec).table()
    assert "input (1, 8, 8)" in table
    assert "conv2d relu" in table and "(4, 8, 8)" in table and "(256,)" in table
    assert "head (dense)" in table
    total = 4 * 9 + 4 + 256 * 10 + 10
    assert f"total parameters: {total:,}" in table


# -- shape errors -----------------------------------------------------------------------------------
def _apply_fix(layers: list[dict], fix: dict) -> list[dict]:
    """What the page does with a one-click fix."""
    out = list(layers)
    if fix["op"] == "insert":
        out.insert(fix["index"], fix["layer"])
    elif fix["op"] == "remove":
        del out[fix["index"]]
    else:
        raise AssertionError(f"unknown fix op {fix['op']!r}")
    return out


def _shape_error(dataset: str, layers: list[dict], limits: Limits | None = None) -> ShapeError:
    spec = parse_spec({"data": {"dataset": dataset}, "model": {"layers": layers}})
    with pytest.raises(ShapeError) as info:
        infer(spec, limits)
    assert len(info.value.errors) == 1
    return info.value


def test_dense_after_conv_without_flatten():
    layers = [{"type": "conv2d", "filters": 4}, {"type": "dense", "units": 8}]
    err = _shape_error("digits", layers).errors[0]
    assert err.path == "model.layers[1]"
    assert "model.layers[1]" in err.message and "(4, 8, 8)" in err.message
    assert "insert a flatten layer" in err.message
    assert err.fix is not None and err.fix["op"] == "insert" and err.fix["index"] == 1
    assert err.fix["layer"] == {"type": "flatten"}
    fixed = _apply_fix(layers, err.fix)
    assert infer(parse_spec({"data": {"dataset": "digits"}, "model": {"layers": fixed}})).total_params > 0


def test_conv_on_two_dimensional_data():
    layers = [{"type": "dense", "units": 8}, {"type": "conv2d"}]
    err = _shape_error("circle", layers).errors[0]
    assert err.path == "model.layers[1]"
    assert "conv2d" in err.message and "(C, H, W)" in err.message
    assert err.fix is not None and err.fix["op"] == "remove" and err.fix["index"] == 1
    infer(parse_spec({"data": {"dataset": "circle"}, "model": {"layers": _apply_fix(layers, err.fix)}}))


@pytest.mark.parametrize("layer", [{"type": "maxpool2d"}, {"type": "avgpool2d"}, {"type": "lstm"},
                                   {"type": "rnn"}, {"type": "gru"}])
def test_image_and_sequence_layers_on_feature_data_offer_removal(layer):
    err = _shape_error("circle", [layer]).errors[0]
    assert err.path == "model.layers[0]" and layer["type"] in err.message
    assert err.fix == {"op": "remove", "index": 0, "label": err.fix["label"]}


def test_recurrent_layer_after_a_flat_sequence_is_a_shape_problem():
    lstm = LAYER.validate_python({"type": "lstm", "units": 4})
    with pytest.raises(ShapeProblem) as info:
        lstm.infer((12,), 3)
    assert "(T, F)" in info.value.message and info.value.fix["index"] == 3


def test_head_after_unflattened_conv():
    layers = [{"type": "conv2d", "filters": 4}, {"type": "maxpool2d"}]
    err = _shape_error("digits", layers).errors[0]
    assert err.path == "model.layers[1]"
    assert "(4, 4, 4)" in err.message and "flatten" in err.message
    assert err.fix["op"] == "insert" and err.fix["index"] == 2 and err.fix["layer"] == {"type": "flatten"}
    infer(parse_spec({"data": {"dataset": "digits"}, "model": {"layers": _apply_fix(layers, err.fix)}}))


def test_kernel_larger_than_the_image():
    err = _shape_error("digits", [{"type": "maxpool2d", "kernel_size": 4}, {"type": "maxpool2d", "kernel_size": 4}])
    assert err.errors[0].path == "model.layers[1]" and "does not fit" in err.errors[0].message
    err = _shape_error("digits", [{"type": "conv2d", "kernel_size": 9, "padding": "valid"}])
    assert err.errors[0].path == "model.layers[0]" and "does not fit" in err.errors[0].message


def test_param_cap():
    layers = [{"type": "dense", "units": 100}]  # 2*100+100 + 100*2+2 = 502 parameters
    assert infer(parse_spec({"data": {"dataset": "circle"}, "model": {"layers": layers}}),
                 Limits(max_params=502)).total_params == 502
    err = _shape_error("circle", layers, Limits(max_params=501)).errors[0]
    assert err.path == "model.layers"
    assert "502" in err.message and "501" in err.message


def test_activation_memory_cap_names_the_batch_size():
    layers = [{"type": "conv2d", "filters": 64}, {"type": "flatten"}]
    big = parse_spec({"data": {"dataset": "digits"}, "model": {"layers": layers},
                      "training": {"batch_size": 4096}})
    with pytest.raises(ShapeError) as info:
        infer(big, Limits(max_activation_mib=64))
    [err] = info.value.errors
    assert err.path == "training.batch_size" and "64 MiB" in err.message and "batch_size" in err.message
    small = parse_spec({"data": {"dataset": "digits"}, "model": {"layers": layers}, "training": {"batch_size": 8}})
    infer(small, Limits(max_activation_mib=64))


# -- spec validation errors -------------------------------------------------------------------------
def _spec_errors(raw: Any, limits: Limits | None = None) -> dict[str, str]:
    with pytest.raises(SpecError) as info:
        parse_spec(raw, limits)
    return {e.path: e.message for e in info.value.errors}


def _with_layers(*layers: Any) -> dict[str, Any]:
    return {"data": {"dataset": "circle"}, "model": {"layers": list(layers)}}


def test_negative_units_names_its_path():
    errs = _spec_errors(_with_layers({"type": "dense"}, {"type": "dropout"}, {"type": "dense", "units": -4}))
    assert list(errs) == ["model.layers[2].units"]
    assert "greater than or equal to 1" in errs["model.layers[2].units"]


def test_wrong_type_names_its_path():
    errs = _spec_errors(_with_layers({"type": "dense", "units": "many"}))
    assert list(errs) == ["model.layers[0].units"] and "integer" in errs["model.layers[0].units"]


def test_unknown_layer_type_lists_the_valid_ones():
    errs = _spec_errors(_with_layers({"type": "dense"}, {"type": "conv3d"}))
    assert list(errs) == ["model.layers[1]"]
    assert "'conv3d'" in errs["model.layers[1]"]
    for name in LAYERS.names():
        assert name in errs["model.layers[1]"]


def test_layer_without_a_type_lists_the_valid_ones():
    errs = _spec_errors(_with_layers({"units": 4}))
    assert list(errs) == ["model.layers[0]"]
    assert "type" in errs["model.layers[0]"] and all(n in errs["model.layers[0]"] for n in LAYERS.names())


def test_unknown_activation_lists_the_valid_ones():
    from engine.activations import ACTIVATIONS

    errs = _spec_errors(_with_layers({"type": "dense"}, {"type": "dense", "activation": "swish"}))
    assert list(errs) == ["model.layers[1].activation"]
    assert "'swish'" in errs["model.layers[1].activation"]
    assert all(n in errs["model.layers[1].activation"] for n in ACTIVATIONS.names())


def test_bad_padding_is_one_error_at_the_field():
    errs = _spec_errors({"data": {"dataset": "digits"}, "model": {"layers": [{"type": "conv2d", "padding": "full"}]}})
    assert list(errs) == ["model.layers[0].padding"]
    assert "same" in errs["model.layers[0].padding"] and "valid" in errs["model.layers[0].padding"]
    errs = _spec_errors({"data": {"dataset": "digits"}, "model": {"layers": [{"type": "conv2d", "padding": 9}]}})
    assert list(errs) == ["model.layers[0].padding"]


def test_unknown_field_dataset_and_optimizer():
    raw = merge_patch(_with_layers({"type": "dense", "unit": 4}),
                      {"data": {"dataset": "helix"}, "training": {"optimizer": "lbfgs"}})
    errs = _spec_errors(raw)
    assert errs["model.layers[0].unit"] == "unknown field"
    assert "'helix'" in errs["data.dataset"] and "circle" in errs["data.dataset"] and "digits" in errs["data.dataset"]
    assert "'lbfgs'" in errs["training.optimizer"] and "adam" in errs["training.optimizer"]


def test_schedule_and_early_stopping_paths():
    raw = merge_patch(_with_layers(), {"training": {"lr_schedule": {"type": "step", "gamma": 2},
                                                    "early_stopping": {"patience": 0}}})
    errs = _spec_errors(raw)
    assert set(errs) == {"training.lr_schedule.gamma", "training.early_stopping.patience"}


def test_task_must_fit_the_dataset():
    errs = _spec_errors({**_with_layers(), "task": "regression"})
    assert "regression" in " ".join(errs.values()) and "classification" in " ".join(errs.values())


@pytest.mark.parametrize("raw,needle", [("{", "not valid JSON"), ("[1]", "JSON object"),
                                        ('{"data": ' + " " * 70_000 + "}", "larger than")])
def test_unparseable_specs(raw, needle):
    errs = _spec_errors(raw)
    assert list(errs) == ["$"] and needle in errs["$"]


def test_epoch_sample_and_layer_caps():
    raw = merge_patch(_with_layers(*[{"type": "dense", "units": 2}] * 4),
                      {"data": {"n_samples": 501}, "training": {"epochs": 11}})
    errs = _spec_errors(raw, Limits(max_epochs=10, max_samples=500, max_layers=3))
    assert set(errs) == {"training.epochs", "data.n_samples", "model.layers"}
    assert "10" in errs["training.epochs"] and "500" in errs["data.n_samples"] and "3" in errs["model.layers"]
    # At the caps exactly, the spec is accepted.
    ok = merge_patch(_with_layers(*[{"type": "dense", "units": 2}] * 3),
                     {"data": {"n_samples": 500}, "training": {"epochs": 10}})
    parse_spec(ok, Limits(max_epochs=10, max_samples=500, max_layers=3))


def test_every_error_is_reported_at_once():
    raw = merge_patch(_with_layers({"type": "dense", "units": 0}, {"type": "dropout", "p": 1.0}),
                      {"training": {"lr": -1}})
    assert set(_spec_errors(raw)) == {"model.layers[0].units", "model.layers[1].p", "training.lr"}


def test_shapes_print_like_keras():
    from engine.layers import fmt

    assert fmt((16,)) == "(16,)" and fmt((8, 6, 6)) == "(8, 6, 6)"

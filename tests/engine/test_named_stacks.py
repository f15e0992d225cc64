"""Named stacks: a family with two stacks (encoder and decoder, as issue 12's autoencoder will have)
registers from this file alone; the spec validates each stack with paths that name it, shape
inference reports each stack's rows, and the one-stack `model.layers` of old specs still loads."""

from __future__ import annotations

from typing import Iterator, Optional

import pytest
from pydantic import Field
from torch import nn

from engine.data import DataInfo
from engine.errors import SpecError
from engine.family import FAMILIES, Family, Metric, StackDef
from engine.shapes import Summary, infer
from engine.spec import ModelSpec, Stack, parse_spec
from engine.stack import build_stack, infer_stack

NAME = "toy_two_stacks"


class TwoStackModel(ModelSpec):
    encoder: Stack
    latent_dim: int = Field(2, ge=1, le=64)
    decoder: Stack


class TwoStacks(Family):
    name = NAME
    label = "Two stacks"
    stacks = (StackDef("encoder", "Encoder layers", "encoder.layers"),
              StackDef("decoder", "Decoder layers", "decoder.layers"))
    metrics = (Metric("train_loss", "Training loss", "loss", pair="val_loss"), Metric("val_loss", "Validation loss", "loss"))

    def model_spec(self):
        return TwoStackModel

    def fits(self, data: DataInfo) -> Optional[str]:
        return None if len(data.input_shape) == 1 else "flat data only"

    def plan(self, spec, data: DataInfo) -> Summary:
        enc, dec = self.stacks
        rows, shape = infer_stack(enc.layers(spec.model), data.input_shape, enc)
        more, shape = infer_stack(dec.layers(spec.model), shape, dec)
        return Summary(data.input_shape, self.name, data.n_classes, rows + more)

    def build(self, spec, summary):
        by = summary.stacks
        return nn.ModuleDict({s.name: nn.Sequential(*build_stack(s.layers(spec.model), by.get(s.name, [])))
                              for s in self.stacks})


@pytest.fixture
def two() -> Iterator[TwoStacks]:
    FAMILIES.register(NAME, TwoStacks())
    yield FAMILIES.get(NAME)
    FAMILIES.unregister(NAME)


def _spec(encoder, decoder, **extra):
    return {"task": NAME, "data": {"dataset": "circle"},
            "model": {"encoder": {"layers": encoder}, "decoder": {"layers": decoder}, **extra}}


def test_each_stack_validates_with_a_path_that_names_it(two):
    with pytest.raises(SpecError) as e:
        parse_spec(_spec([{"type": "dense", "units": 4}, {"type": "dense", "units": 0}], [{"type": "lstmz"}]))
    paths = {i.path for i in e.value.errors}
    assert "model.encoder.layers[1].units" in paths and "model.decoder.layers[0]" in paths
    with pytest.raises(SpecError) as e:
        parse_spec({**_spec([], []), "model": {"layers": []}})  # the one-stack shape is not this family's
    assert {i.path for i in e.value.errors} >= {"model.encoder", "model.decoder", "model.layers"}


def test_shapes_are_inferred_per_stack_and_errors_name_the_stack(two):
    spec = parse_spec(_spec([{"type": "dense", "units": 4}], [{"type": "dense", "units": 3}], latent_dim=3))
    assert spec.model.latent_dim == 3 and spec.to_json()["model"]["encoder"]["layers"][0]["units"] == 4
    summary = infer(spec)
    assert {k: [r.path for r in v] for k, v in summary.stacks.items()} == \
        {"encoder": ["model.encoder.layers[0]"], "decoder": ["model.decoder.layers[0]"]}
    assert summary.to_dict()["stacks"]["decoder"][0]["input_shape"] == [4]
    with pytest.raises(SpecError) as e:
        infer(parse_spec(_spec([{"type": "dense"}], [{"type": "maxpool2d"}])))
    assert e.value.errors[0].path == "model.decoder.layers[0]"
    # The caps count per stack, and name the stack's path.
    many = [{"type": "dense", "units": 2}] * 65
    with pytest.raises(SpecError) as e:
        parse_spec(_spec([], many))
    assert e.value.errors[0].path == "model.decoder.layers"


def test_old_one_stack_specs_still_load_and_read_the_same():
    raw = {"data": {"dataset": "spiral"}, "model": {"layers": [{"type": "dense", "units": 8}]}}
    spec = parse_spec(raw)
    assert spec.stacks() == {"layers": list(spec.model.layers)}
    assert spec.to_json()["model"] == {"layers": [spec.model.layers[0].model_dump()]}
    assert "window" not in spec.to_json()["data"] and "upload" not in spec.to_json()["data"]
    with pytest.raises(SpecError) as e:
        parse_spec({"data": {"dataset": "spiral"}, "model": {"layers": [{"type": "dense", "units": -1}]}})
    assert e.value.errors[0].path == "model.layers[0].units"

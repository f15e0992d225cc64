"""The builder: named controls, inline shape errors with one-click fixes, the spec in the URL."""

from __future__ import annotations

import base64
import json
import re

import pytest
from playwright.sync_api import Page, expect

from browserkit import (button, drag_into_stack, layer_labels, layers, palette_item, remove_all_layers,
                        wait_valid)

pytestmark = pytest.mark.browser

TOOLBAR = ["Train", "Pause", "Step", "Stop", "Reset", "Save", "Share", "Fork", "Export"]
PALETTE = ["Dense", "Conv2D", "MaxPool2D", "AvgPool2D", "Flatten", "Dropout", "BatchNorm"]
RECURRENT = ["RNN", "LSTM", "GRU"]  # offered on sequence data only


def test_controls_have_their_names(page: Page) -> None:
    for name in TOOLBAR:
        expect(button(page, name)).to_have_count(1)
    for name in ["Save", "Share"]:
        expect(button(page, name)).to_be_enabled()
    expect(button(page, "Fork")).to_be_disabled()  # until there is a saved session to copy
    expect(button(page, "Export")).to_be_disabled()  # until there is a run to export
    for name in ["Compare runs", "Import spec…", "My sessions"]:
        expect(button(page, name)).to_have_count(1)
    expect(page.get_by_label("Session title")).to_be_editable()
    for name in PALETTE:
        expect(palette_item(page, name)).to_have_count(1)
    for name in RECURRENT:
        expect(palette_item(page, name)).to_have_count(0)  # the spiral preset is not a sequence
    expect(page.get_by_label("Epoch", exact=True)).to_have_text("0")


def test_recurrent_layers_appear_on_sequences_and_an_lstm_trains_there(page: Page) -> None:
    page.get_by_label("Dataset", exact=True).select_option(label="Sequences")
    for name in RECURRENT:
        expect(palette_item(page, name)).to_have_count(1)
    remove_all_layers(page)
    drag_into_stack(page, "LSTM")
    assert layer_labels(page) == ["LSTM"]
    expect(layers(page).nth(0).locator(".layer-out")).to_have_text("↓ (16,)")
    expect(page.locator("#stack-input")).to_contain_text("(30, 1)")
    wait_valid(page)
    button(page, "Train").click()
    page.wait_for_function("() => Number(document.querySelector('#loss-chart').dataset.valPoints) >= 3",
                           timeout=30_000)
    assert page.locator("#loss-chart").get_attribute("data-columns") == "train_loss val_loss naive_val_loss"
    page.get_by_label("Dataset", exact=True).select_option("circle")
    for name in RECURRENT:
        expect(palette_item(page, name)).to_have_count(0)


def test_dense_then_conv2d_on_2d_data_shows_the_error_on_that_layer_and_the_fix_mends_it(page: Page, shot) -> None:
    remove_all_layers(page)
    drag_into_stack(page, "Dense")
    drag_into_stack(page, "Conv2D")
    assert layer_labels(page) == ["Dense", "Conv2D"]
    conv = layers(page).nth(1)
    alert = conv.get_by_role("alert")
    expect(alert).to_contain_text("needs an image input")
    expect(layers(page).nth(0).get_by_role("alert")).to_have_count(0)  # only the layer it concerns
    expect(button(page, "Train")).to_be_disabled()
    shot(page, "invalid-stack")

    conv.get_by_role("button", name="Remove this layer").click()
    assert layer_labels(page) == ["Dense"]
    wait_valid(page)
    expect(page.get_by_role("alert")).to_have_count(0)


def test_dense_on_images_is_fixed_by_inserting_flatten(page: Page) -> None:
    page.get_by_label("Dataset", exact=True).select_option("digits")
    dense = layers(page).nth(0)
    fix = dense.get_by_role("button", name="Insert flatten")
    expect(fix).to_be_visible()
    fix.click()
    assert layer_labels(page) == ["Flatten", "Dense", "Dense"]
    wait_valid(page)
    expect(layers(page).nth(0).locator(".layer-out")).to_have_text("↓ (64,)")


def test_reload_keeps_the_stack(page: Page) -> None:
    layers(page).nth(0).get_by_label("Units").fill("24")
    palette_item(page, "Dropout").click()  # a click adds at the end
    wait_valid(page)
    expect(page).to_have_url(re.compile(r"#spec=[\w-]+"))
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    assert layer_labels(page) == ["Dense", "Dense", "Dropout"]
    expect(layers(page).nth(0).get_by_label("Units")).to_have_value("24")


def test_reorder_by_dragging_within_the_stack(page: Page) -> None:
    palette_item(page, "Dropout").click()
    assert layer_labels(page) == ["Dense", "Dense", "Dropout"]
    handle = layers(page).nth(2).locator(".layer-head .layer-name")
    target = layers(page).nth(0).bounding_box()
    box = handle.bounding_box()
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.mouse.down()
    page.mouse.move(box["x"] + 8, box["y"] + 2, steps=3)
    page.mouse.move(target["x"] + target["width"] / 2, target["y"] + 3, steps=15)
    page.mouse.up()
    expect(layers(page).nth(0)).to_have_attribute("aria-label", "Dropout")
    wait_valid(page)


def test_a_shared_link_is_read_only(page: Page) -> None:
    res = page.request.post("/api/sessions", data={"title": "Shared", "spec": None})
    assert res.ok
    page.goto(f"/s/{res.json()['share_token']}")
    page.wait_for_selector("body[data-ready='true']")
    expect(page.get_by_text("Read-only: a shared experiment")).to_be_visible()
    expect(layers(page).nth(0).get_by_label("Units")).to_be_disabled()
    expect(page.get_by_label("Dataset", exact=True)).to_be_disabled()
    expect(layers(page).nth(0).get_by_role("button", name="Remove layer 1 (Dense)")).to_be_disabled()
    palette_item(page, "Dropout").click()  # does nothing here
    assert layer_labels(page) == ["Dense", "Dense"]


def test_a_broken_link_loads_and_names_what_is_wrong(page: Page) -> None:
    spec = {"model": {"layers": [{"type": "bogus"}, 7]}, "training": {"lr_schedule": "x", "lr": -1}}
    token = base64.urlsafe_b64encode(json.dumps(spec).encode()).decode().rstrip("=")
    page.goto(f"/#spec={token}")
    page.reload()  # a hash change alone does not reload
    page.wait_for_selector("body[data-ready='true']")
    assert layer_labels(page) == ["bogus"]
    expect(layers(page).nth(0).get_by_role("alert")).to_contain_text("unknown type")
    expect(button(page, "Train")).to_be_disabled()
    expect(page.locator("#run-status")).to_have_text("Needs a fix")

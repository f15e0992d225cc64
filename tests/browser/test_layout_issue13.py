"""Layout and controls a newcomer tripped on (issue 13): a cue for the Training panel's lower half
below the fold, the patience box inside its column, 2-D data drawn without stretching, sample
digits at least 48 px with their labels in a row below (not over) them, and the training fields
that wait for the next run marked and announced. At 1440x900 and 1024x768."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from browserkit import button, set_field, status, wait_for_chart, wait_valid

pytestmark = pytest.mark.browser
SIZES = [{"width": 1440, "height": 900}, {"width": 1024, "height": 768}]


@pytest.mark.parametrize("size", SIZES, ids=["1440x900", "1024x768"])
def test_the_lower_training_settings_have_a_cue_and_stay_in_their_column(page: Page, shot, size) -> None:
    page.set_viewport_size(size)
    device = page.get_by_label("Device", exact=True)
    cue = page.get_by_role("button", name="↓ More training settings below: dropout, early stopping, schedule, seed, device")
    below = page.evaluate("() => document.querySelector(\"[data-path='training.device']\").getBoundingClientRect().bottom") > size["height"]
    assert below, "the case under test: the device field below the fold"
    expect(cue).to_be_visible()
    shot(page, f"fold-cue-{size['width']}")
    cue.click()
    page.wait_for_function("() => document.querySelector(\"[data-path='training.device']\").getBoundingClientRect().bottom <= innerHeight")
    expect(cue).to_be_hidden()
    expect(device).to_be_in_viewport()
    # The early-stopping patience box lies inside the Training panel's column.
    page.get_by_label("Early stopping").check()
    panel = page.locator("#train-panel").bounding_box()
    box = page.locator("#f-es-patience").bounding_box()
    assert box["x"] + box["width"] <= panel["x"] + panel["width"] + 0.5, (box, panel)


@pytest.mark.parametrize("size", SIZES, ids=["1440x900", "1024x768"])
def test_2d_data_keeps_its_shape_and_digit_labels_clear_the_digits(page: Page, shot, size) -> None:
    page.set_viewport_size(size)
    preview = page.locator("canvas.data-preview")
    page.get_by_label("Dataset", exact=True).select_option("circle")
    page.wait_for_function("() => document.querySelector('canvas.data-preview').dataset.aspect")
    aspect = float(preview.get_attribute("data-aspect"))
    assert 0.8 < aspect < 1.25, aspect  # a disc is drawn round, not as an ellipse
    expect(page.get_by_role("list", name="Class colours").get_by_role("listitem")).to_have_text(["class 0", "class 1"])
    page.get_by_label("Load an example").select_option(label="CNN on 8x8 digits")
    expect(page.locator(".preview-caption")).to_contain_text("images")
    tiles = page.get_by_role("list", name="Sample images").get_by_role("img")
    expect(tiles).to_have_count(8 if size["width"] > 1180 else 9)  # full rows of four, or of three
    expect(tiles.first).to_have_accessible_name(re.compile(r"^a sample labelled \d$"))
    shot(page, f"digit-labels-{size['width']}")
    # Each digit readable (its former 11 px were not) and each label in a row of its own: no label's
    # box meets any digit's box.
    boxes = page.locator(".digit-grid").evaluate(
        "g => [...g.querySelectorAll('.digit-tile, .digit-label')].map((e) => {"
        " const r = e.getBoundingClientRect(); return [e.className, r.left, r.top, r.right, r.bottom]; })")
    digits = [b[1:] for b in boxes if b[0] == "digit-tile"]
    labels = [b[1:] for b in boxes if b[0] == "digit-label"]
    grid = page.locator(".digit-grid").bounding_box()
    digits = [d for d in digits if d[2] > d[0]]  # the ones shown
    labels = [a for a in labels if a[2] > a[0]]
    assert len(digits) == len(labels) == (8 if size["width"] > 1180 else 9)
    for x0, y0, x1, y1 in digits:
        assert x1 - x0 >= 48 and y1 - y0 >= 48, (x0, y0, x1, y1)
        assert grid["x"] <= x0 and x1 <= grid["x"] + grid["width"], (x0, x1, grid)  # none cut at the edge
    for a in labels:
        for d in digits:
            assert a[2] <= d[0] or d[2] <= a[0] or a[3] <= d[1] or d[3] <= a[1], (a, d)


def test_fields_that_wait_for_the_next_run_are_marked_and_announced(page: Page) -> None:
    page.set_viewport_size({"width": 1440, "height": 900})
    set_field(page, "Epochs", "3000")
    wait_valid(page)
    button(page, "Train").click()
    wait_for_chart(page, min_points=3)
    batch = page.get_by_role("spinbutton", name="Batch size", exact=True)
    expect(batch).to_have_accessible_description("Applies to the next run, not the one training now.")
    expect(page.locator("#train-panel .next-run")).to_have_count(9)  # Seeds (issue 16) is the ninth
    expect(page.get_by_role("spinbutton", name="L2", exact=True)).not_to_have_attribute("aria-describedby", "next-run-hint")
    set_field(page, "L1", "0.001")
    expect(page.locator("#toast")).to_contain_text("L1: applies to the next run")
    batch.fill("16")
    expect(page.locator("#toast")).to_contain_text("Batch size: applies to the next run")
    button(page, "Stop").click()
    expect(status(page)).to_have_text("Stopped")
    expect(page.locator("#train-panel .next-run")).to_have_count(0)

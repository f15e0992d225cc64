"""Views that never lie (issue 13): after a switch of example or a bad import, a view that still
shows the last run says which run and why it differs, or is cleared; a share link draws its
latest run's network with that run's weights; a fork is marked and links to its source; the
charts, the data seed and the diagnosis have names and a live region. At 1440x900 and 1024x768."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from browserkit import (assert_fits, button, layers, save_state, set_field, share_link, train_new_run, train_to_the_end,
                        wait_valid)

pytestmark = pytest.mark.browser
SIZES = [{"width": 1440, "height": 900}, {"width": 1024, "height": 768}]


@pytest.mark.parametrize("size", SIZES, ids=["1440x900", "1024x768"])
def test_a_switch_or_a_bad_import_never_leaves_a_view_of_another_run_unmarked(page: Page, tmp_path: Path, shot, size) -> None:
    page.set_viewport_size(size)
    caption = page.locator("#network-caption")
    train_to_the_end(page, epochs=20)
    expect(caption).to_contain_text("Weights at epoch 20")
    for note in ("#loss-from", "#diagnosis-from"):
        expect(page.locator(note)).to_be_hidden()

    # A new example on other data: the charts and the diagnosis say whose they are.
    page.get_by_label("Load an example").select_option(label="Regression: noisy sine")
    wait_valid(page)
    for note in ("#loss-from", "#diagnosis-from"):
        expect(page.locator(note)).to_have_text("From Run 1, trained on Spiral: the data on screen differs.")
    expect(caption).to_contain_text("Weights appear once training starts")  # the new network, no weights
    shot(page, f"stale-marked-{size['width']}")

    # Back to the run's spec: the marks go.
    page.get_by_label("Load an example").select_option(label="Spiral, two hidden layers")
    set_field(page, "Epochs", "20")
    wait_valid(page)
    expect(page.locator("#loss-from")).to_be_hidden()

    # A bad import: the diagram does not keep the previous network (nor its weights' caption).
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"task": "classification", "data": {"dataset": "spiral"},
                               "model": {"layers": [{"type": "dense", "units": -4}]}, "training": {}}))
    page.locator("#import-file").set_input_files(str(bad))
    expect(layers(page).nth(0).get_by_role("alert")).to_contain_text("greater than")
    expect(caption).to_have_text("")
    expect(page.locator("#loss-from")).to_have_text(re.compile(r"^From Run 1: the (network|data settings) on screen diff"))


@pytest.mark.parametrize("size", SIZES, ids=["1440x900", "1024x768"])
def test_a_share_link_draws_its_latest_runs_network_with_its_weights(page: Page, fresh_page, shot, size) -> None:
    page.set_viewport_size(size)
    train_to_the_end(page, epochs=15)
    button(page, "Save").click()
    expect(save_state(page)).to_have_text("Saved")
    layers(page).nth(0).get_by_label("Units").fill("9")  # an edit after the run, autosaved
    wait_valid(page)
    expect(save_state(page)).to_have_text("Saved")
    other = fresh_page(share_link(page))
    other.set_viewport_size(size)
    expect(layers(other).nth(0).get_by_label("Units")).to_have_value("16")  # what Run 1 trained
    expect(other.locator("#network-caption")).to_contain_text("Weights at epoch 15")
    expect(other.locator("#loss-from")).to_be_hidden()
    shot(other, f"share-weights-{size['width']}")


@pytest.mark.parametrize("size", SIZES, ids=["1440x900", "1024x768"])
def test_charts_seed_and_diagnosis_have_names_and_the_verdict_is_announced(page: Page, size) -> None:
    page.set_viewport_size(size)
    expect(page.get_by_role("spinbutton", name="Data seed", exact=True)).to_be_visible()
    for name in ("Loss per epoch", "Accuracy per epoch", "Learning rate per epoch"):
        expect(page.get_by_role("img", name=re.compile(f"^{name}"))).to_have_count(1)
    expect(page.locator("#diagnosis .verdict-line")).to_have_attribute("aria-live", "polite")
    assert_fits(page, size["width"], ("#btn-export", "#btn-fork", "#loss-chart"))


@pytest.mark.outcome
@pytest.mark.parametrize("size", SIZES, ids=["1440x900", "1024x768"])
def test_a_linear_model_on_the_circle_is_told_it_does_worse_than_a_guess(page: Page, shot, size) -> None:
    page.set_viewport_size(size)
    page.get_by_label("Load an example").select_option(label="Underfitting: linear model on a circle")
    wait_valid(page)
    train_new_run(page)
    note = page.locator("#acc-note")
    expect(note).to_contain_text("no straight line separates these classes")
    acc, share = map(int, re.match(r"Validation accuracy (\d+)% is below the (\d+)% of always predicting the most "
                                   r"common class", note.text_content()).groups())
    assert acc < share
    shot(page, f"below-chance-{size['width']}")

"""The Output panel's views in real Chromium: a CNN's filters and confusion matrix change while it
trains, its misclassified digits show, and a picked digit comes back as its feature maps."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from browserkit import (button, layers, palette_item, save_state, set_field, status, train_new_run, wait_for_chart,
                        wait_valid)

pytestmark = pytest.mark.browser


def _cnn(page: Page, epochs: int) -> None:
    page.get_by_label("Load an example").select_option(label="CNN on 8x8 digits")
    wait_valid(page)
    expect(page.locator(".preview-caption")).to_contain_text("images")  # the tabs follow the data's preview
    set_field(page, "Epochs", str(epochs))
    wait_valid(page)


def _tab(page: Page, name: str):
    """Open a view's tab; its region is then the one shown."""
    page.get_by_role("tab", name=name, exact=True).click()
    region = page.get_by_role("region", name=name, exact=True)
    expect(region).to_be_visible()
    return region


def _epoch_of(text: str) -> int:
    return int(re.search(r"at epoch (\d+)", text).group(1))


def _pixels(region) -> list[str]:
    """What the region's canvases really show: each canvas's pixels as a data URL."""
    return region.locator("canvas").evaluate_all("cs => cs.map((c) => c.toDataURL())")


def test_a_cnns_filters_and_confusion_matrix_change_while_it_trains(page: Page, shot) -> None:
    _cnn(page, 300)
    tabs = page.get_by_role("tablist", name="Output views").get_by_role("tab")
    expect(tabs).to_have_text(["Confusion matrix", "Misclassified", "Filters", "Feature maps"])
    button(page, "Train").click()
    wait_for_chart(page, min_points=2)
    # The first matrix is read at once: a CNN that has converged can keep the same 539 answers for
    # a few epochs, so the one to compare with is an early one (seen under load, where the page
    # reached the confusion tab only after the net had converged).
    confusion = page.get_by_role("region", name="Confusion matrix", exact=True)
    table = confusion.get_by_role("table")
    expect(table.locator("tbody tr")).to_have_count(10)
    lead = confusion.locator(".confusion-lead")
    expect(lead).to_contain_text(re.compile(r"(Most confused: \d is taken for \d|No validation example)"))
    counts = lambda: table.locator("tbody td").all_text_contents()  # noqa: E731
    before, before_epoch = counts(), _epoch_of(lead.text_content())
    assert len(before) == 100 and sum(map(int, before)) == 539  # the default 30% of 1797 digits validate

    filters = _tab(page, "Filters")
    expect(filters.get_by_role("img", name=re.compile(r"^Filter \d+$"))).to_have_count(8)  # the preset's 8 kernels
    caption = filters.locator("p.hint")
    expect(caption).to_contain_text("kernels 3×3")
    first_epoch, first = _epoch_of(caption.text_content()), _pixels(filters)
    page.wait_for_function("""([e]) => {
        const m = document.querySelector('[data-view=filters] p.hint').textContent.match(/at epoch (\\d+)/);
        return m && Number(m[1]) >= e + 3; }""", arg=[first_epoch])
    assert _pixels(filters) != first  # the kernels are learning
    shot(page, "cnn-filters")

    _tab(page, "Confusion matrix")
    page.wait_for_function("""([e]) => {
        const m = document.querySelector('.confusion-lead').textContent.match(/at epoch (\\d+)/);
        return m && Number(m[1]) >= e + 3; }""", arg=[before_epoch])
    assert counts() != before
    expect(confusion.locator(".per-class")).to_contain_text("Per class: 0 ")
    shot(page, "cnn-confusion")

    button(page, "Pause").click()
    expect(status(page)).to_have_text("Paused")
    wrong = _tab(page, "Misclassified")
    lead = wrong.locator("p.hint")
    expect(lead).to_contain_text("validation digits")
    n = int(re.match(r"(\d+) of 539", lead.text_content()).group(1)) if lead.text_content()[0].isdigit() else 0
    items = wrong.get_by_role("listitem")
    expect(items).to_have_count(min(n, 12))
    for label in items.evaluate_all("els => els.map((e) => e.getAttribute('aria-label'))"):
        t, p = re.fullmatch(r"true (\d), predicted (\d)", label).groups()
        assert t != p
    button(page, "Stop").click()


def test_pick_a_digit_and_see_its_feature_maps(page: Page, shot) -> None:
    _cnn(page, 3000)
    button(page, "Train").click()
    wait_for_chart(page, min_points=2)
    button(page, "Pause").click()
    expect(status(page)).to_have_text("Paused")
    maps = _tab(page, "Feature maps")
    picker = maps.get_by_role("group", name="Pick a validation digit")
    expect(picker.get_by_role("button")).to_have_count(16)
    expect(maps).to_have_attribute("data-index", "0")
    digit = picker.get_by_role("button", name=re.compile(r"^Validation digit 6, label \d$"))
    label = re.search(r"label (\d)", digit.get_attribute("aria-label")).group(1)
    digit.click()  # while paused: the run answers at once, without training on
    expect(maps).to_have_attribute("data-index", "5")
    expect(maps.locator("p.hint")).to_contain_text(f"Validation digit 6 (label {label})")
    expect(digit).to_have_attribute("aria-pressed", "true")
    layer = maps.get_by_role("region", name="Layer 1 maps")
    expect(layer.get_by_role("heading")).to_have_text("Layer 1: 8 maps 8×8")
    expect(layer.get_by_role("img")).to_have_count(8)
    shot(page, "cnn-feature-maps")
    first = _pixels(layer)
    picker.get_by_role("button", name=re.compile(r"^Validation digit 2,")).click()
    expect(maps).to_have_attribute("data-index", "1")
    assert _pixels(maps.get_by_role("region", name="Layer 1 maps")) != first  # another digit, other maps
    button(page, "Stop").click()
    expect(status(page)).to_have_text("Stopped")


def _pick(maps, n: int) -> None:
    """Click validation digit n (1-based) and wait for its maps."""
    picker = maps.get_by_role("group", name="Pick a validation digit")
    digit = picker.get_by_role("button", name=re.compile(rf"^Validation digit {n}, label \d$"))
    label = re.search(r"label (\d)", digit.get_attribute("aria-label")).group(1)
    digit.click()
    expect(maps).to_have_attribute("data-index", str(n - 1))
    expect(maps.locator("p.hint")).to_contain_text(f"Validation digit {n} (label {label})")
    layer = maps.get_by_role("region", name="Layer 1 maps")
    expect(layer.get_by_role("img")).to_have_count(8)


def test_pick_a_digit_after_the_run_ended_and_after_a_reload(page: Page, shot) -> None:
    """The run has no trainer left: the server answers from its saved weights (GET /api/runs/{id}/pick)."""
    button(page, "Save").click()
    expect(save_state(page)).to_have_text("Saved")
    _cnn(page, 4)
    train_new_run(page)
    maps = _tab(page, "Feature maps")
    expect(maps).to_have_attribute("data-index", "0")
    first = _pixels(maps.get_by_role("region", name="Layer 1 maps"))
    _pick(maps, 6)
    assert _pixels(maps.get_by_role("region", name="Layer 1 maps")) != first
    shot(page, "cnn-feature-maps-ended")
    expect(save_state(page)).to_have_text("Saved")

    page.reload()  # the session brings the run back, with its views' last snapshots
    page.wait_for_selector("body[data-ready='true']")
    expect(status(page)).to_have_text("Finished")
    maps = _tab(page, "Feature maps")
    expect(maps.get_by_role("group", name="Pick a validation digit").get_by_role("button")).to_have_count(16)
    _pick(maps, 3)


def _forecast_mse(page: Page) -> tuple[int, float]:
    d = page.get_by_role("region", name="Forecast", exact=True).evaluate("e => ({...e.dataset})")
    return int(d["epoch"]), float(d["mse"])


def test_an_lstm_on_sequences_forecasts_closer_to_the_truth_as_it_trains(page: Page, shot) -> None:
    page.get_by_label("Dataset", exact=True).select_option(label="Sequences")
    palette_item(page, "LSTM").click()  # a click adds the layer at the end, after the preset's two Dense
    for n in (3, 2):  # then the Dense layers go (never an empty stack on the way)
        layers(page).first.get_by_role("button", name="Remove layer 1", exact=False).click()
        expect(layers(page)).to_have_count(n - 1)
    expect(layers(page)).to_have_count(1)
    page.get_by_label("Noise", exact=True).fill("0")  # noiseless: no floor under the forecast error
    set_field(page, "Epochs", "400")
    wait_valid(page)
    tabs = page.get_by_role("tablist", name="Output views").get_by_role("tab")
    expect(tabs).to_have_text(["Forecast"])
    forecast = page.get_by_role("region", name="Forecast", exact=True)
    expect(forecast).to_be_visible()
    button(page, "Train").click()
    page.wait_for_function("() => document.querySelector('.view-slot[data-view=forecast]').dataset.epoch")
    first_epoch, first = _forecast_mse(page)
    page.wait_for_function("""([e]) => Number(document.querySelector('.view-slot[data-view=forecast]').dataset.epoch) >= e + 40""",
                           arg=[first_epoch], timeout=60_000)
    _, later = _forecast_mse(page)
    assert later < 0.5 * first, (first, later)  # the one-step forecasts follow the truth more closely
    caption = forecast.locator("p.hint").first
    expect(caption).to_contain_text("One-step forecasts at epoch")
    shot(page, "lstm-forecast")

    forecast.get_by_label("Multi-step rollout").check()
    expect(forecast).to_have_attribute("data-rollout", "true")
    expect(caption).to_contain_text(re.compile(r"Rollout of 30 steps \(30 × horizon 1\)"))
    shot(page, "lstm-rollout")
    forecast.get_by_label("Multi-step rollout").uncheck()
    expect(caption).to_contain_text("One-step forecasts")
    button(page, "Stop").click()

"""Runs you can tell apart (issue 13): a session reopens on its latest run and the remedy runs
around it, never on runs of other data; names are kept with the runs, the same on the page, in
Compare and through a share link, and the user renames them; markers never overlap; the toolbar
shows the device, the step time and epochs/s, and Pause turns into Resume. At 1440x900 and 1024x768."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from browserkit import button, save_state, set_field, share_link, status, train_new_run, wait_for_chart, wait_valid

pytestmark = pytest.mark.browser
SIZES = [{"width": 1440, "height": 900}, {"width": 1024, "height": 768}]


def legend_names(page: Page) -> list[str]:
    return page.get_by_role("list", name="Runs").get_by_role("listitem").evaluate_all(
        "els => els.map((e) => e.getAttribute('aria-label'))")


def compare_names(page: Page, n: int) -> list[str]:
    button(page, "Compare runs").click()
    dialog = page.get_by_role("dialog", name="Compare runs")
    expect(dialog.locator(".compare-run")).to_have_count(n)
    names = dialog.locator(".compare-run .legend-label").all_text_contents()
    dialog.get_by_role("button", name="Close").click()
    return names


def assert_markers_apart(page: Page) -> None:
    """The marker labels on the loss chart neither overlap nor leave the plot."""
    boxes = json.loads(page.locator("#loss-chart").get_attribute("data-markers") or "[]")
    chart = page.locator("#loss-chart canvas").first.bounding_box()
    for _, x0, y0, x1, y1 in boxes:
        assert 0 <= x0 and x1 <= chart["width"] and 0 <= y0 and y1 <= chart["height"], (boxes, chart)
    for i, (_, x0, y0, x1, y1) in enumerate(boxes):
        for _, a0, b0, a1, b1 in boxes[i + 1:]:
            assert x1 <= a0 or a1 <= x0 or y1 <= b0 or b1 <= y0, boxes


@pytest.mark.parametrize("size", SIZES, ids=["1440x900", "1024x768"])
def test_a_session_reopens_on_its_latest_runs_by_the_names_they_were_given(page: Page, fresh_page, shot, size) -> None:
    page.set_viewport_size(size)
    button(page, "Save").click()
    expect(save_state(page)).to_have_text("Saved")
    # Run 1 on one dataset, then Run 2 on another and a remedy of it, Run 3.
    page.get_by_label("Dataset", exact=True).select_option("gaussians")
    set_field(page, "Epochs", "20")
    wait_valid(page)
    train_new_run(page)
    page.get_by_label("Load an example").select_option(label="Overfitting: big net, 60 noisy points")
    set_field(page, "Epochs", "200")
    wait_valid(page)
    button(page, "Train").click()
    remedy = page.locator("#diagnosis").get_by_role("button", name="Add dropout", exact=True)
    expect(remedy).to_be_visible(timeout=60_000)
    remedy.click()
    # The remedy's run joins the legend once its POST is answered: until then "every run finished"
    # held for Run 2 alone (a loaded CI run saw just that).
    expect(page.get_by_role("list", name="Runs").get_by_role("listitem")).to_have_count(2, timeout=30_000)
    expect(page.get_by_role("list", name="Runs")).to_contain_text("Finished", timeout=60_000)
    page.wait_for_function("() => [...document.querySelectorAll('#run-legend .legend-status')]"
                           ".every((e) => /Finished|Stopped/.test(e.textContent))", timeout=60_000)
    assert legend_names(page) == ["Run 2", "Run 3 · Add dropout"]
    assert_markers_apart(page)

    # Reload: the latest run and its remedy's source, not the run on the other dataset.
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    wait_for_chart(page, min_points=10, runs=2)
    assert legend_names(page) == ["Run 2", "Run 3 · Add dropout"]
    assert_markers_apart(page)
    shot(page, f"reload-latest-runs-{size['width']}")
    assert compare_names(page, 3) == ["Run 1", "Run 2", "Run 3 · Add dropout"]

    # Rename from the legend: kept with the run, its remedy says where it came from.
    page.get_by_role("button", name="Run 2 (rename)").click()
    box = page.get_by_role("textbox", name="New name of Run 2")
    box.fill("big net")
    box.press("Enter")
    expect(page.get_by_role("list", name="Runs")).to_contain_text("(from big net)")
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    wait_for_chart(page, min_points=10, runs=2)
    assert legend_names(page) == ["big net", "Run 3 · Add dropout"]
    assert compare_names(page, 3) == ["Run 1", "big net", "Run 3 · Add dropout"]

    # Through the share link: the same names, and no renaming.
    other = fresh_page(share_link(page))
    other.set_viewport_size(size)
    wait_for_chart(other, min_points=10, runs=2)
    assert legend_names(other) == ["big net", "Run 3 · Add dropout"]
    expect(other.get_by_role("button", name=re.compile(r"\(rename\)$"))).to_have_count(0)
    assert compare_names(other, 3) == ["Run 1", "big net", "Run 3 · Add dropout"]

    # The next run goes on from the numbers in use.
    set_field(page, "Epochs", "5")
    wait_valid(page)
    train_new_run(page)
    assert legend_names(page) == ["Run 4"]


@pytest.mark.parametrize("size", SIZES, ids=["1440x900", "1024x768"])
def test_the_toolbar_shows_the_device_step_time_and_speed_and_pause_says_resume(page: Page, shot, size) -> None:
    page.set_viewport_size(size)
    speed = page.get_by_label("Training speed")
    expect(speed).to_have_text("")
    set_field(page, "Epochs", "3000")
    wait_valid(page)
    button(page, "Train").click()
    expect(speed).to_have_text(re.compile(r"^cpu · [\d.]+ ms/step · [\d.]+ epochs/s$"), timeout=20_000)
    rate = float(re.search(r"([\d.]+) epochs/s", speed.text_content()).group(1))
    assert rate > 1
    box = speed.bounding_box()
    assert box and box["x"] + box["width"] <= size["width"]
    pill = page.locator("#run-status").bounding_box()  # and it runs under nothing (it once ran under the pill at 1024)
    assert pill and (box["x"] + box["width"] <= pill["x"] or box["y"] >= pill["y"] + pill["height"])
    button(page, "Pause").click()
    expect(status(page)).to_have_text("Paused")
    expect(button(page, "Resume")).to_be_enabled()
    shot(page, f"paused-resume-{size['width']}")
    button(page, "Resume").click()
    expect(status(page)).to_have_text("Training")
    expect(button(page, "Pause")).to_be_enabled()
    button(page, "Stop").click()
    expect(status(page)).to_have_text("Stopped")
    expect(speed).to_contain_text("ms/step")  # what it trained at stays readable


def test_the_diagnosis_says_its_epoch_and_catches_up_at_the_end(page: Page) -> None:
    set_field(page, "Epochs", "300")
    wait_valid(page)
    train_new_run(page)
    expect(page.locator("#diagnosis .diagnosis-epoch")).to_have_text("at epoch 300")

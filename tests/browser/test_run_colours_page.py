"""A run keeps its colour (issue 13): the colour comes from the run's number, kept with it on the
server, so it is the same on the main page, after a reload, renamed, in Compare and through a share
link, wherever the run sits in a list. (It came from the run's place: Run 2 of a second Train was
drawn in Run 1's colour, and in another after a reload.)"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from browserkit import button, save_state, set_field, share_link, train_new_run, wait_for_chart, wait_valid

pytestmark = pytest.mark.browser


def legend_colours(page: Page) -> dict[str, str]:
    """Each run in the legend, by name, with its swatch's colour."""
    return page.get_by_role("list", name="Runs").get_by_role("listitem").evaluate_all(
        "els => Object.fromEntries(els.map((e) => [e.getAttribute('aria-label'),"
        " getComputedStyle(e.querySelector('.swatch')).backgroundColor]))")


def compare_colours(page: Page, n: int) -> dict[str, str]:
    button(page, "Compare runs").click()
    dialog = page.get_by_role("dialog", name="Compare runs")
    expect(dialog.locator(".compare-run")).to_have_count(n)
    out = dialog.locator(".compare-run").evaluate_all(
        "els => Object.fromEntries(els.map((e) => [e.querySelector('.legend-label').textContent,"
        " getComputedStyle(e.querySelector('.swatch')).backgroundColor]))")
    dialog.get_by_role("button", name="Close").click()
    return out


def series_colour(page: Page, name: str) -> str:
    """The stroke of the loss chart's training-loss series of run `name`, as uPlot draws it."""
    return page.locator("#loss-chart").evaluate(
        "(e, name) => { const [, stroke] = JSON.parse(e.dataset.strokes).find(([label]) => label.startsWith(name + ' '));"
        " const d = document.createElement('div'); d.style.color = stroke; document.body.append(d);"
        " const c = getComputedStyle(d).color; d.remove(); return c; }", name)


def test_a_run_keeps_its_colour_across_reloads_renames_compare_and_the_share_link(page: Page, fresh_page) -> None:
    button(page, "Save").click()
    expect(save_state(page)).to_have_text("Saved")
    set_field(page, "Epochs", "20")
    wait_valid(page)
    train_new_run(page)
    first = legend_colours(page)["Run 1"]
    set_field(page, "Epochs", "30")  # a new Train: Run 1 leaves the charts, Run 2 is alone on them
    wait_valid(page)
    train_new_run(page)
    second = legend_colours(page)["Run 2"]
    assert second != first  # alone on the charts, Run 2 still has its own colour, not the first slot's
    page.get_by_role("button", name="Run 2 (rename)").click()
    box = page.get_by_role("textbox", name="New name of Run 2")
    box.fill("tuned")
    box.press("Enter")
    expect(page.get_by_role("list", name="Runs")).to_contain_text("tuned")
    assert legend_colours(page) == {"tuned": second}
    assert compare_colours(page, 2) == {"Run 1": first, "tuned": second}

    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    wait_for_chart(page, min_points=10, runs=1)
    assert legend_colours(page) == {"tuned": second}
    assert series_colour(page, "tuned") == second
    assert compare_colours(page, 2) == {"Run 1": first, "tuned": second}

    other = fresh_page(share_link(page))
    wait_for_chart(other, min_points=10, runs=1)
    assert legend_colours(other) == {"tuned": second}
    assert compare_colours(other, 2) == {"Run 1": first, "tuned": second}
    expect(other.get_by_role("combobox", name="Training pace")).to_be_disabled()  # a share link cannot slow them

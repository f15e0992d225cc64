"""Slow motion on the page (issue 13): the toolbar's pace, chosen before Train, slows the run from
its first epochs (the trainer itself waits); full speed speeds it up again at once; the choice is
kept across a reload."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from browserkit import button, epoch, set_field, status, wait_valid

pytestmark = pytest.mark.browser
SLOW = 3  # epochs a second: the "Slow motion" option
WATCH_S = 3.0


def epochs_over(page: Page, seconds: float) -> tuple[int, float]:
    """How far the epoch counter moves in about `seconds`, and the seconds it really took."""
    start, t0 = epoch(page), time.monotonic()
    time.sleep(seconds)
    return epoch(page) - start, time.monotonic() - t0


def test_slow_motion_slows_the_trainer_and_full_speed_speeds_it_up(page: Page) -> None:
    pace = page.get_by_role("combobox", name="Training pace")
    expect(pace).to_have_value("")  # full speed until chosen
    pace.select_option(label="Slow motion · 3/s")  # before Train: carried in the start
    set_field(page, "Epochs", "3000")
    wait_valid(page)
    button(page, "Train").click()
    page.wait_for_function("() => Number(document.querySelector('#epoch').textContent) >= 1")
    moved, took = epochs_over(page, WATCH_S)
    # At most the pace, with one batch of slack for the ~50 ms coalescing, and it does move.
    assert 1 <= moved <= SLOW * took + 1, (moved, took)
    expect(page.locator("#run-speed")).to_contain_text("epochs/s")

    pace.select_option(label="Full speed")
    page.wait_for_timeout(300)
    fast, took = epochs_over(page, 1.0)
    assert fast > 10 * SLOW * took, (fast, took)  # far past the pace (a tiny net trains hundreds a second)

    pace.select_option(label="Slow motion · 3/s")  # and slow again, on the run going
    page.wait_for_timeout(600)
    moved, took = epochs_over(page, 2.0)
    assert moved <= SLOW * took + 1, (moved, took)
    asked = time.monotonic()
    button(page, "Stop").click()
    expect(status(page)).to_have_text("Stopped", timeout=2000)  # stop answers a waiting trainer at once
    assert time.monotonic() - asked < 2.0

    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    expect(page.get_by_role("combobox", name="Training pace")).to_have_value(str(SLOW))  # kept by this browser
    page.get_by_role("combobox", name="Training pace").select_option(label="Full speed")

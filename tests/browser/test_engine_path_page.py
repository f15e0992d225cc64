"""The page says which compute path trained the run (issue 16): fused-dense or autograd, beside the speed line's step time."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from browserkit import button, set_field, wait_for_chart, wait_valid

pytestmark = pytest.mark.browser


def test_toolbar_names_the_fused_path_and_then_autograd(page: Page, shot) -> None:
    set_field(page, "Epochs", "30")
    wait_valid(page)
    button(page, "Train").click()  # the preset: a small dense stack on the CPU
    wait_for_chart(page, min_points=5)
    engine = page.locator("#run-engine")
    expect(engine).to_have_text("fused-dense")  # the step time is the speed line's
    expect(page.locator("#run-speed")).to_have_text(re.compile(r"^cpu · [\d.]+ ms/step"))
    expect(engine).to_have_attribute("title", re.compile("exact fused path"))
    shot(page, "engine-fused")

    page.get_by_label("Optimizer").select_option("rmsprop")  # not fused: the run falls back, and says so
    wait_valid(page)
    button(page, "Train").click()
    expect(engine).to_have_text("autograd", timeout=20_000)
    expect(engine).to_have_attribute("title", re.compile("rmsprop"))

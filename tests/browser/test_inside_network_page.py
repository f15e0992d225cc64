"""Inside the network: a deep sigmoid net flags its first layers while it trains, the card names
vanishing gradients, and the "Switch to ReLU" remedy's overlaid run learns."""

from __future__ import annotations

import base64
import re
import json

import pytest
from playwright.sync_api import expect

from browserkit import button, layers, wait_valid

pytestmark = [pytest.mark.browser, pytest.mark.outcome]

DEEP_SIGMOID = {
    "data": {"dataset": "gaussians", "seed": 1},
    "model": {"layers": [{"type": "dense", "units": 16, "activation": "sigmoid"}] * 8},
    "training": {"optimizer": "sgd", "lr": 0.5, "epochs": 150},
}


def test_deep_sigmoid_net_shows_vanishing_gradients_and_relu_fixes_it(fresh_page, shot) -> None:
    raw = base64.urlsafe_b64encode(json.dumps(DEEP_SIGMOID).encode()).decode().rstrip("=")
    page = fresh_page(f"/#spec={raw}")
    expect(layers(page)).to_have_count(8)
    wait_valid(page)
    button(page, "Train").click()

    region = page.locator("#insides")
    expect(region.get_by_role("heading", name="Inside the network")).to_be_visible()
    first = region.locator(".insides-row[data-index='0']")
    expect(first).to_have_attribute("data-flags", "vanishing", timeout=30_000)
    expect(region.locator(".insides-row[data-index='8']")).to_have_attribute("data-flags", "")  # the head
    # The builder's card for the first layer carries the flag too.
    expect(layers(page).nth(0)).to_have_class(re.compile("insides-flagged"))
    expect(layers(page).nth(0).locator(".layer-flag")).to_contain_text("vanishing gradient")

    first.click()
    detail = region.locator(".insides-detail")
    expect(detail).to_be_visible()
    expect(detail.locator("canvas.hist-map")).to_have_count(3)

    card = page.locator("#diagnosis")
    expect(card.locator(".verdict-cause")).to_contain_text("vanishing gradients", timeout=30_000)
    expect(card.locator(".verdict")).to_have_text("Underfitting")
    shot(page, "insides-vanishing")
    remedy = card.get_by_role("button", name="Switch to ReLU", exact=True)
    expect(remedy).to_be_visible()
    remedy.click()

    legend = page.get_by_role("list", name="Runs").get_by_role("listitem")
    expect(legend).to_have_count(2)
    expect(legend.nth(1)).to_have_attribute("aria-label", "Run 2 · Switch to ReLU")
    # The overlaid run (now the current one, all ReLU) learns: its card says good fit.
    expect(card.locator(".verdict")).to_have_text("Good fit", timeout=60_000)
    expect(region.locator(".insides-name").first).to_contain_text("relu")
    shot(page, "insides-relu")

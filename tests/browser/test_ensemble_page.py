"""An ensemble (training.seeds, issue 16) on the page: the Seeds field, a ±1 sd band around each mean
curve drawn on the loss chart's canvas, "×4" in the speed line, and what the views show."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from browserkit import set_field, train_to_the_end

pytestmark = pytest.mark.browser

PIXEL = """([x, y]) => {
    const canvas = document.querySelector('#loss-chart canvas');
    const r = window.devicePixelRatio || 1;
    return Array.from(canvas.getContext('2d').getImageData(Math.round(x * r), Math.round(y * r), 1, 1).data);
}"""


def test_an_ensemble_of_four_shows_its_band_on_the_loss_chart(page: Page, shot) -> None:
    seeds = page.get_by_role("spinbutton", name="Seeds", exact=True)
    expect(seeds).to_have_value("1")
    expect(seeds).to_have_attribute("max", "16")
    set_field(page, "Seeds", "4")
    train_to_the_end(page, 40)
    chart = page.locator("#loss-chart")
    bands = chart.get_attribute("data-bands").split("|")
    assert any(b.endswith("/train_loss") for b in bands) and any(b.endswith("/val_loss") for b in bands), bands
    probe = chart.get_attribute("data-band-probe")
    assert probe, "no band wide enough to probe"
    x, y = (int(v) for v in probe.split(","))
    r, g, b, a = page.evaluate(PIXEL, [x, y])
    # The plot's canvas is transparent where nothing is drawn. Inside the band, above both curves,
    # it holds the run's blue (#1c7ed6) at the band's opacity (0.22): the fill alone, no line.
    assert 40 <= a <= 80, (r, g, b, a)
    assert abs(r - 0x1c) < 8 and abs(g - 0x7e) < 8 and abs(b - 0xd6) < 8, (r, g, b)
    assert page.locator("#acc-chart").get_attribute("data-bands")  # the accuracy chart has its bands too
    expect(page.locator("#run-speed")).to_have_text(re.compile(r"^cpu · ×4 · [\d.]+ ms/step"))
    expect(page.locator("#output-ensemble")).to_have_text(re.compile("member 0 of the ensemble of 4"))
    expect(page.locator("#run-engine")).to_have_attribute("title", re.compile("4 seeds in batched matmuls"))
    key = page.locator("#run-legend .legend-run").last.locator(".legend-band")  # the band has its key
    expect(key).to_have_text("±1 sd over 4 seeds")
    expect(key).to_have_attribute("title", re.compile("mean ± 1 standard deviation across its 4 seeds"))
    shot(page, "ensemble-band")

    # Back to one seed: a single run has no band and no note.
    set_field(page, "Seeds", "1")
    train_to_the_end(page, 20)
    expect(chart).to_have_attribute("data-bands", "")
    expect(page.locator("#output-ensemble")).to_be_hidden()
    expect(page.locator("#run-legend .legend-run").last.locator(".legend-band")).to_have_count(0)

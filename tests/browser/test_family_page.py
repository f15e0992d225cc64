"""A family registered in the test draws in the page: the page builds its charts from the catalog,
so the toy family's own column (val_mae) gets a chart of its own, filled while it trains."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from browserkit import button, wait_for_chart, wait_valid

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from serverkit import LiveServer, make_settings, wait_for  # noqa: E402
from toyfamily import registered, toy_spec  # noqa: E402

pytestmark = pytest.mark.browser
VIEWPORT = {"width": 1280, "height": 800}  # as conftest's pages (not imported: tests/server has a conftest too)


@pytest.fixture
def toy_page(browser: Browser, tmp_path: Path) -> Iterator[Page]:
    """The page, served by an app in this process with the toy family registered, opened on its spec."""
    gen = registered()
    next(gen)
    live = LiveServer(make_settings(tmp_path))
    live.thread.start()  # started here to give it the browser server's 60 s start-up (conftest.py), not 10 s
    wait_for(lambda: live.server.started, 60, what="uvicorn to start")
    context = browser.new_context(viewport=VIEWPORT, base_url=live.base)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    spec = base64.urlsafe_b64encode(json.dumps(toy_spec(300)).encode()).decode().rstrip("=")
    page.goto(f"/#spec={spec}")
    page.wait_for_selector("body[data-ready='true']")
    try:
        yield page
    finally:
        context.close()
        live.stop()
        gen.close()
    assert not errors, "errors in the browser console:\n" + "\n".join(errors)


def test_a_plugged_in_family_draws_its_own_column(toy_page: Page, shot) -> None:
    page = toy_page
    wait_valid(page)
    button(page, "Train").click()
    wait_for_chart(page, min_points=10)
    region = page.get_by_role("region", name="Mean absolute error")
    expect(region).to_be_visible()
    page.wait_for_function("() => Number(document.querySelector('#chart-mae').dataset.points) >= 10")
    assert page.locator("#chart-mae canvas").count() >= 1
    assert page.locator("#loss-chart").get_attribute("data-columns") == "train_loss val_loss"
    expect(page.locator("#acc-panel")).to_be_hidden()  # no accuracy column in this family
    legend = page.locator("#run-legend .legend-values").first
    expect(legend).to_contain_text("val mae")
    shot(page, "toy-family")

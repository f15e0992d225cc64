"""What the browser tests do to the page, named as a user would say it."""

from __future__ import annotations

import time

from playwright.sync_api import Locator, Page, expect


def palette_item(page: Page, label: str) -> Locator:
    return page.get_by_role("list", name="Layer palette").get_by_role("listitem", name=label, exact=True)


def stack(page: Page) -> Locator:
    return page.get_by_role("list", name="Network layers")


def layers(page: Page) -> Locator:
    return stack(page).get_by_role("listitem")


def layer_labels(page: Page) -> list[str]:
    return [item.get_attribute("aria-label") for item in layers(page).all()]


def drag_into_stack(page: Page, label: str, at_end: bool = True) -> None:
    """A real mouse drag from the palette into the stack (SortableJS listens to pointer events)."""
    src = palette_item(page, label).bounding_box()
    items = layers(page)
    if items.count():
        box = items.last.bounding_box() if at_end else items.first.bounding_box()
        x = box["x"] + box["width"] / 2
        y = box["y"] + box["height"] - 4 if at_end else box["y"] + 4
    else:
        box = stack(page).bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    before = items.count()
    page.mouse.move(src["x"] + src["width"] / 2, src["y"] + src["height"] / 2)
    page.mouse.down()
    page.mouse.move(src["x"] + src["width"] / 2 + 5, src["y"] + src["height"] / 2 + 5, steps=3)
    page.mouse.move(x, y, steps=15)
    page.mouse.move(x, y + 2, steps=2)
    page.mouse.up()
    expect(items).to_have_count(before + 1)


def remove_all_layers(page: Page) -> None:
    while layers(page).count():
        n = layers(page).count()
        layers(page).first.get_by_role("button", name="Remove layer 1", exact=False).click()
        expect(layers(page)).to_have_count(n - 1)


def button(page: Page, name: str) -> Locator:
    return page.get_by_role("button", name=name, exact=True)


def epoch(page: Page) -> int:
    return int(page.get_by_label("Epoch", exact=True).text_content())


def status(page: Page) -> Locator:
    return page.locator("#run-status")


def set_field(page: Page, label: str, value: str) -> None:
    """Type into a number field of the data or training panel."""
    page.get_by_role("spinbutton", name=label, exact=True).fill(value)


def wait_valid(page: Page) -> None:
    """The last edit has been validated and the stack is fine (Train enabled)."""
    expect(button(page, "Train")).to_be_enabled()
    page.wait_for_function("() => !document.querySelector('#stack .layer.invalid')")


def chart_points(page: Page) -> dict[str, int]:
    """What the loss chart really holds: uPlot's own data, counted by charts.js after setData."""
    data = page.locator("#loss-chart").evaluate("e => ({...e.dataset})")
    return {k: int(v) for k, v in data.items() if v.isdigit()}


def wait_for_chart(page: Page, min_points: int, runs: int = 1, timeout_s: float = 30) -> dict[str, int]:
    page.wait_for_function(
        """([n, runs]) => {
            const d = document.querySelector('#loss-chart').dataset;
            return Number(d.runs) === runs && Number(d.trainPoints) >= n && Number(d.valPoints) >= n;
        }""", arg=[min_points, runs], timeout=timeout_s * 1000)
    return chart_points(page)


def wait_epoch_stable(page: Page, quiet_s: float = 0.6, timeout_s: float = 10) -> int:
    """The epoch counter once it has stopped moving for `quiet_s`."""
    deadline = time.monotonic() + timeout_s
    last = epoch(page)
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = epoch(page)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return now
    raise AssertionError(f"the epoch counter kept moving (last {last})")


# -- sessions ------------------------------------------------------------------------------------------
def train_to_the_end(page: Page, epochs: int, timeout_s: float = 60) -> None:
    """Set the epochs, train, and wait until the run has finished."""
    set_field(page, "Epochs", str(epochs))
    wait_valid(page)
    train_new_run(page, timeout_s)


def train_new_run(page: Page, timeout_s: float = 60) -> str:
    """Press Train and wait until the run it starts has finished; its id.

    The pill says "Finished" for the run before too, so waiting for that text alone can end before
    the new run is even created (a loaded CI machine saw it): wait for the pill to name a new run."""
    before = status(page).get_attribute("data-run") or ""
    button(page, "Train").click()
    page.wait_for_function(
        "(before) => { const s = document.querySelector('#run-status');"
        " return s.dataset.run && s.dataset.run !== before && s.dataset.status === 'finished'; }",
        arg=before, timeout=timeout_s * 1000)
    expect(status(page)).to_have_text("Finished")
    return status(page).get_attribute("data-run")


def save_state(page: Page) -> Locator:
    return page.locator("#save-state")


def kept_sessions(page: Page) -> list[dict]:
    """The {id, token} pairs this browser keeps (localStorage)."""
    return page.evaluate("() => JSON.parse(localStorage.getItem('layerlab.sessions.v1') || '[]')")


def share_link(page: Page) -> str:
    """Open the Share dialog, read the link, close the dialog."""
    button(page, "Share").click()
    dialog = page.get_by_role("dialog", name="Share this experiment")
    expect(dialog).to_be_visible()
    url = dialog.get_by_label("Share link").input_value()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    return url


def assert_fits(page: Page, width: int, selectors: tuple[str, ...] = ()) -> None:
    """Nothing scrolls sideways, and each element named lies inside the viewport's width."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for selector in selectors:
        box = page.locator(selector).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width + 1, selector

"""Sessions from the page: save, share read-only, fork and train, my sessions, compare runs,
export and import, and your own CSV data. A real server, real Chromium, no tokens faked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from browserkit import (assert_fits, button, chart_points, epoch, kept_sessions, layer_labels, layers, palette_item,
                        save_state, set_field, share_link, status, train_new_run, train_to_the_end, wait_for_chart,
                        wait_valid)

pytestmark = pytest.mark.browser


def test_save_then_share_read_only_then_fork_and_train(page: Page, fresh_page, shot) -> None:
    # (1) Train a short run, then save: the run is kept with the session.
    train_to_the_end(page, epochs=20)
    page.get_by_label("Session title").fill("Spiral, two layers")
    expect(save_state(page)).to_have_text("Not saved")
    button(page, "Save").click()
    expect(save_state(page)).to_have_text("Saved")
    (kept,) = kept_sessions(page)
    assert re.search(f"session={kept['id']}", page.url)
    url = share_link(page)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/s/[\w-]{43}", url)
    shot(page, "session-saved")

    # (2) Another browser, no tokens: the same layers and curves, read-only.
    other = fresh_page(url)
    assert kept_sessions(other) == []
    expect(other.get_by_text("Read-only: a shared experiment")).to_be_visible()
    expect(other.get_by_label("Session title")).to_have_value("Spiral, two layers")
    assert layer_labels(other) == layer_labels(page) == ["Dense", "Dense"]
    mine, theirs = chart_points(page), wait_for_chart(other, min_points=20)
    assert (theirs["runs"], theirs["trainPoints"], theirs["valPoints"]) == (1, 20, 20) == \
        (mine["runs"], mine["trainPoints"], mine["valPoints"])
    expect(other.locator("#output-caption")).to_have_text("Decision boundary at epoch 20")
    expect(button(other, "Train")).to_be_disabled()
    expect(button(other, "Save")).to_be_disabled()
    expect(layers(other).nth(0).get_by_label("Units")).to_be_disabled()
    expect(other.get_by_label("Dataset", exact=True)).to_be_disabled()
    palette_item(other, "Dropout").click()  # does nothing here
    assert layer_labels(other) == ["Dense", "Dense"]
    expect(other.get_by_label("Session title")).not_to_be_editable()
    shot(other, "shared-read-only")
    other.set_viewport_size({"width": 1024, "height": 800})
    assert_fits(other, 1024, ("#btn-fork", "#btn-export", "#read-only-note", "#btn-sessions", "#loss-chart"))
    shot(other, "shared-read-only-1024")
    other.set_viewport_size({"width": 1280, "height": 800})

    # (3) Fork: an editable session of their own that trains when Train is pressed.
    button(other, "Fork").click()
    other.wait_for_url(re.compile(r"/#session=[0-9a-f]{32}"))
    other.wait_for_selector("body[data-ready='true']")
    expect(other.get_by_text("Read-only: a shared experiment")).to_be_hidden()
    (fork,) = kept_sessions(other)
    assert fork["id"] != kept["id"]
    # The fork is marked as one, and links to the share view it came from (issue 13).
    expect(other.get_by_label("Session title")).to_have_value("Spiral, two layers (fork)")
    source = other.get_by_role("link", name="Forked from “Spiral, two layers”")
    expect(source).to_have_attribute("href", url)
    wait_for_chart(other, min_points=20)  # the copied run
    expect(button(other, "Train")).to_be_enabled()
    button(other, "Train").click()
    expect(status(other)).to_have_text(re.compile("Training|Finished"))
    other.wait_for_function("() => Number(document.querySelector('#epoch').textContent) >= 5")
    shot(other, "fork-training")


def test_my_sessions_opens_renames_and_deletes(page: Page, shot) -> None:
    page.get_by_label("Session title").fill("First idea")
    layers(page).nth(0).get_by_label("Units").fill("12")
    wait_valid(page)
    button(page, "Save").click()
    expect(save_state(page)).to_have_text("Saved")
    # A new, unsaved page in the same browser: My sessions opens the saved one.
    page.goto("/#")
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    expect(save_state(page)).to_have_text("Not saved")
    expect(layers(page).nth(0).get_by_label("Units")).to_have_value("16")
    button(page, "My sessions").click()
    dialog = page.get_by_role("dialog", name="My sessions")
    row = dialog.get_by_role("listitem", name="First idea")
    expect(row).to_contain_text("0 runs")
    expect(row).not_to_contain_text("open now")
    row.get_by_role("button", name="Open").click()
    page.wait_for_selector("body[data-ready='true']")
    expect(page.get_by_label("Session title")).to_have_value("First idea")
    expect(layers(page).nth(0).get_by_label("Units")).to_have_value("12")
    expect(save_state(page)).to_have_text("Saved")

    button(page, "Notes").click()
    page.get_by_label("Notes").fill("keep me")
    button(page, "My sessions").click()
    row = dialog.get_by_role("listitem", name="First idea")
    expect(row).to_contain_text("open now")
    shot(page, "my-sessions")

    row.get_by_role("button", name="Rename").click()
    dialog.get_by_label("New title for First idea").fill("Better idea")
    dialog.get_by_role("button", name="Save title").click()
    expect(dialog.get_by_role("listitem", name="Better idea")).to_be_visible()
    expect(page.get_by_label("Session title")).to_have_value("Better idea")
    expect(page.get_by_label("Notes")).to_have_value("keep me")

    dialog.get_by_role("listitem", name="Better idea").get_by_role("button", name="Delete").click()
    dialog.get_by_role("button", name="Delete for good").click()
    expect(dialog.get_by_role("listitem")).to_have_count(0)
    expect(dialog.get_by_role("status")).to_contain_text("Deleted “Better idea”")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(save_state(page)).to_have_text("Not saved")
    assert kept_sessions(page) == []
    assert "session=" not in page.url


def test_autosave_keeps_title_notes_and_network_across_a_reload(page: Page) -> None:
    button(page, "Save").click()
    expect(save_state(page)).to_have_text("Saved")
    page.get_by_label("Session title").fill("Kept on reload")
    button(page, "Notes").click()
    page.get_by_label("Notes").fill("Try more units.")
    layers(page).nth(0).get_by_label("Units").fill("24")
    wait_valid(page)
    expect(save_state(page)).to_have_text("Saved")
    # Without the spec in the URL, only the server can give the page back.
    page.goto(re.sub(r"&?spec=[^&]*", "", page.url))
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    expect(page.get_by_label("Session title")).to_have_value("Kept on reload")
    expect(page.get_by_label("Notes")).to_have_value("Try more units.")
    expect(layers(page).nth(0).get_by_label("Units")).to_have_value("24")


def test_compare_overlays_smooths_and_lists_what_differs(page: Page, shot) -> None:
    button(page, "Save").click()
    expect(save_state(page)).to_have_text("Saved")
    train_to_the_end(page, epochs=30)
    set_field(page, "Learning rate", "0.03")
    wait_valid(page)
    train_new_run(page)

    button(page, "Compare runs").click()
    dialog = page.get_by_role("dialog", name="Compare runs")
    runs = dialog.get_by_role("list", name="Runs to compare")
    expect(runs.get_by_role("checkbox")).to_have_count(2)
    for box in runs.get_by_role("checkbox").all():
        expect(box).to_be_checked()
    chart = dialog.locator("#compare-chart")
    expect(chart).to_have_attribute("data-runs", "2")
    # Diff only: exactly the one field that differs.
    rows = dialog.locator("#compare-diff tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-path", "training.lr")
    expect(rows.first.get_by_role("cell")).to_have_text(["0.01", "0.03"])
    slider = dialog.get_by_role("slider", name="Smoothing")
    slider.fill("0.9")
    expect(chart).to_have_attribute("data-smoothing", "0.9")
    expect(dialog.locator("#compare-smoothing-value")).to_have_text("0.90")
    shot(page, "compare")
    page.set_viewport_size({"width": 1024, "height": 800})
    assert_fits(page, 1024, ("#compare-dialog", "#compare-chart", "#compare-diff"))
    shot(page, "compare-1024")
    page.set_viewport_size({"width": 1280, "height": 800})

    dialog.get_by_label("Diff only").uncheck()
    assert rows.count() > 10
    expect(dialog.locator("#compare-diff tbody tr.differs")).to_have_count(1)
    dialog.get_by_label("Diff only").check()
    runs.get_by_role("checkbox").first.uncheck()
    expect(chart).to_have_attribute("data-runs", "1")
    expect(dialog.get_by_text("Pick two or more runs")).to_be_visible()

    # The smoothing is TensorBoard's EMA, debiased: s_t = β s_(t-1) + (1-β) x_t, shown s_t / (1 - β^t).
    got = page.evaluate("""async () => (await import('/static/js/smooth.js')).ema([4, null, 2, 6], 0.6)""")
    s1 = 0.4 * 4
    s2 = 0.6 * s1 + 0.4 * 2
    s3 = 0.6 * s2 + 0.4 * 6
    assert got[0] == pytest.approx(4) and got[1] is None
    assert got[2] == pytest.approx(s2 / (1 - 0.6**2)) and got[3] == pytest.approx(s3 / (1 - 0.6**3))


def test_export_offers_script_weights_and_spec_and_a_spec_imports_back(page: Page, tmp_path: Path) -> None:
    train_to_the_end(page, epochs=5)
    downloads = {}
    for item in ["PyTorch script", "Weights", "Spec"]:
        button(page, "Export").click()
        menu = page.get_by_role("menu", name="Export")
        link = menu.get_by_role("menuitem", name=re.compile(f"^{item}"))
        expect(link).not_to_have_attribute("aria-disabled", "true")
        with page.expect_download() as download:
            link.click()
        downloads[item] = download.value
    assert downloads["PyTorch script"].suggested_filename.endswith(".py")
    assert downloads["Weights"].suggested_filename.endswith(".safetensors")
    spec = json.loads(Path(downloads["Spec"].path()).read_text())
    assert spec["training"]["epochs"] == 5

    # Import it back with a change; the page validates it like any other spec.
    spec["model"]["layers"].append({"type": "dropout", "p": 0.3})
    good = tmp_path / "mine.json"
    good.write_text(json.dumps(spec))
    page.locator("#import-file").set_input_files(str(good))
    expect(layers(page)).to_have_count(3)
    assert layer_labels(page) == ["Dense", "Dense", "Dropout"]
    bad_layer = tmp_path / "bad-layer.json"
    spec["model"]["layers"][0]["units"] = -4
    bad_layer.write_text(json.dumps(spec))
    page.locator("#import-file").set_input_files(str(bad_layer))
    expect(layers(page).nth(0).get_by_role("alert")).to_contain_text("greater than")
    expect(button(page, "Train")).to_be_disabled()
    not_json = tmp_path / "notes.json"
    not_json.write_text("{oops")
    page.locator("#import-file").set_input_files(str(not_json))
    expect(page.locator("#diagnosis").get_by_role("alert")).to_contain_text("notes.json is not JSON")


def _csv(rows: int = 60) -> str:
    """Two features and a yes/no label: yes above the line x1 + x2 = 1 (the first row is 'no')."""
    lines = ["x1,x2,label"]
    for i in range(rows):
        a, b = (i * 37 % 61) / 61, (i * 53 % 59) / 59
        lines.append(f"{a:.3f},{b:.3f},{'yes' if a + b > 1 else 'no'}")
    return "\n".join(lines) + "\n"


def test_a_csv_becomes_the_dataset_and_trains(page: Page, fresh_page, shot) -> None:
    page.locator(".csv-slot input[type=file]").set_input_files(
        files=[{"name": "points.csv", "mimeType": "text/csv", "buffer": _csv().encode()}])
    chooser = page.locator(".csv-chooser")
    expect(chooser).to_contain_text("points.csv · 60 rows · 3 columns · 2 classes")
    expect(save_state(page)).to_have_text("Saved")  # uploading saved the experiment first
    expect(chooser.get_by_label("Target column")).to_have_value("label")
    expect(chooser.get_by_label("Task")).to_have_value("classification")
    expect(chooser.get_by_role("checkbox", name="x1")).to_be_checked()
    expect(chooser.get_by_role("checkbox", name="x2")).to_be_checked()
    expect(page.get_by_label("Dataset", exact=True)).to_have_value(re.compile(r"^csv:"))
    expect(page.locator(".preview-caption")).to_contain_text("42 training · 18 validation points")
    # The class colours' key names the CSV's own classes (issue 13).
    expect(page.get_by_role("list", name="Class colours").get_by_role("listitem")).to_have_text(["no", "yes"])
    set_field(page, "Epochs", "10")
    wait_valid(page)
    button(page, "Train").click()
    wait_for_chart(page, min_points=10)
    expect(page.locator("#output-caption")).to_have_text("Decision boundary at epoch 10")
    shot(page, "csv-trained")

    # A share link shows the uploaded data and what the network made of it.
    other = fresh_page(share_link(page))
    wait_for_chart(other, min_points=10)
    expect(other.locator(".csv-chooser")).to_contain_text("points.csv · 60 rows")
    expect(other.locator(".preview-caption")).to_contain_text("42 training · 18 validation points")
    expect(other.locator("#output-caption")).to_have_text("Decision boundary at epoch 10")

    # Another choice of columns is checked against the file as it is made.
    chooser.get_by_role("checkbox", name="x2").uncheck()
    expect(chooser.get_by_role("checkbox", name="x2")).not_to_be_checked()
    expect(page.locator(".preview-caption")).to_contain_text("42 training · 18 validation rows")
    chooser.get_by_label("Task").select_option("regression")
    expect(page.locator(".csv-errors")).to_contain_text("Row 2 · Column label")
    expect(page.locator(".csv-errors")).to_contain_text("'no' is not a number")


def test_a_bad_csv_names_the_row_and_the_column(page: Page, shot) -> None:
    text = "x1,x2,label\n0.1,0.2,a\n0.3,0.4,b\n0.5,oops,a\n0.7,0.8,b\n0.2,0.1,a\n"
    page.locator(".csv-slot input[type=file]").set_input_files(
        files=[{"name": "broken.csv", "mimeType": "text/csv", "buffer": text.encode()}])
    errors = page.locator(".csv-errors")
    expect(errors).to_contain_text("broken.csv cannot be used")
    expect(errors.locator(".csv-where")).to_have_text("Row 4 · Column x2")
    expect(errors.locator(".csv-error")).to_have_text("Row 4 · Column x2'oops' is not a number")
    expect(page.get_by_label("Dataset", exact=True)).to_have_value("spiral")  # nothing changed
    shot(page, "csv-error")
    page.locator(".csv-slot input[type=file]").set_input_files(
        files=[{"name": "ragged.csv", "mimeType": "text/csv", "buffer": b"a,b,y\n1,2,0\n3,4\n"}])
    expect(errors.locator(".csv-where")).to_have_text("Row 3 · Column y")
    expect(errors).to_contain_text("row 3 has 2 values but the header has 3 columns")


def test_the_keyboard_reaches_the_menus_and_dialogs(page: Page) -> None:
    train_to_the_end(page, epochs=3)
    export = button(page, "Export")
    export.focus()
    page.keyboard.press("Enter")
    menu = page.get_by_role("menu", name="Export")
    expect(menu.get_by_role("menuitem", name=re.compile("^PyTorch script"))).to_be_focused()
    expect(menu.get_by_role("menuitem", name=re.compile("^Weights"))).not_to_have_attribute("aria-disabled", "true")
    page.keyboard.press("ArrowDown")
    expect(menu.get_by_role("menuitem", name=re.compile("^Weights"))).to_be_focused()
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(export).to_be_focused()
    expect(export).to_have_attribute("aria-expanded", "false")

    share = button(page, "Share")
    share.focus()
    page.keyboard.press("Enter")  # saves first, then shows the link
    dialog = page.get_by_role("dialog", name="Share this experiment")
    expect(dialog.get_by_label("Share link")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(share).to_be_focused()
    expect(save_state(page)).to_have_text("Saved")
    assert epoch(page) == 3  # no key above started or paused a run

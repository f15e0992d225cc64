"""The GAN in the page: its two stacks are lists built from the palette, its options are fields,
early stopping says why it is off, it trains with its views updating, and a remedy forks an
overlaid run."""

from __future__ import annotations

import base64
import json

import pytest
from playwright.sync_api import Page, expect

from browserkit import button, palette_item, status, wait_valid

pytestmark = pytest.mark.browser

# D far faster than a linear G, five D steps a G step: D wins at once and offers its remedies.
SPEC = {"task": "generation", "data": {"dataset": "ring", "n_samples": 256},
        "model": {"latent_dim": 2, "generator": {"layers": []},
                  "discriminator": {"layers": [{"type": "dense", "units": 32, "activation": "relu"}]}},
        "training": {"optimizer": "adam", "lr": 0.0005, "d_lr": 0.02, "d_steps": 5, "batch_size": 128,
                     "epochs": 60}}


def drag_into(page: Page, label: str, target) -> None:
    """A real mouse drag from the palette into the list `target`."""
    src = palette_item(page, label).bounding_box()
    box = target.bounding_box()
    before = target.locator(":scope > li").count()
    page.mouse.move(src["x"] + src["width"] / 2, src["y"] + src["height"] / 2)
    page.mouse.down()
    page.mouse.move(src["x"] + src["width"] / 2 + 5, src["y"] + src["height"] / 2 + 5, steps=3)
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] - 4
    page.mouse.move(x, y, steps=15)
    page.mouse.move(x, y + 2, steps=2)
    page.mouse.up()
    expect(target.locator(":scope > li")).to_have_count(before + 1)


def test_a_gan_is_built_trained_and_forked(page: Page, shot) -> None:
    spec = base64.urlsafe_b64encode(json.dumps(SPEC).encode()).decode().rstrip("=")
    page.goto(f"/#spec={spec}")
    page.reload()  # the fixture opened "/": a new hash alone does not load the page again
    page.wait_for_selector("body[data-ready='true']")
    gen = page.get_by_role("list", name="Generator layers")
    disc = page.get_by_role("list", name="Discriminator layers")
    expect(gen).to_be_visible()
    expect(disc.locator(":scope > li")).to_have_count(1)
    drag_into(page, "Dense", gen)  # the palette feeds both stacks
    expect(gen.locator(":scope > li")).to_have_count(1)
    expect(disc.locator(":scope > li")).to_have_count(1)
    expect(page.get_by_label("Latent dimensions")).to_have_value("2")
    expect(page.get_by_label("D steps per G step")).to_have_value("5")
    expect(page.locator(".es-why")).to_contain_text("no validation loss")
    wait_valid(page)
    # Back to a linear G, so that D overpowers it.
    gen.locator(":scope > li").first.get_by_role("button", name="Remove").click()
    expect(gen.locator(":scope > li")).to_have_count(0)
    wait_valid(page)
    # Every epoch the samples view shows, recorded as it is drawn. (The test read the view's epoch, then
    # waited for a later one: when the run ended in between, as a loaded CI machine let it, the
    # final snapshot had been drawn already and the wait ran out.)
    page.wait_for_selector("#view-gan_samples", state="attached")  # made by the data's preview
    page.locator("#view-gan_samples").evaluate(
        "v => { v.shown = []; new MutationObserver(() => v.shown.push(Number(v.dataset.epoch)))"
        ".observe(v, { attributes: true, attributeFilter: ['data-epoch'] }); }")
    button(page, "Train").click()
    region = page.get_by_role("region", name="Generated samples")
    expect(region).to_be_visible()
    page.wait_for_function("() => { const s = document.querySelector('#view-gan_samples').shown;"
                           " return s.some((e) => e >= 5) && new Set(s.filter(Number.isFinite)).size >= 2; }", timeout=60_000)
    remedy = page.locator("#diagnosis").get_by_role("button", name="One D step per G step", exact=True)
    expect(remedy).to_be_visible(timeout=90_000)
    expect(page.locator("#diagnosis")).to_contain_text("D overpowering G")
    remedy.click()
    legend = page.get_by_role("list", name="Runs").get_by_role("listitem")
    expect(legend).to_have_count(2)
    expect(legend.nth(1)).to_have_attribute("aria-label", "Run 2 · One D step per G step")
    shot(page, "gan-remedy-overlay")
    # Compare offers the columns these runs fill: no critic's estimate for the standard loss.
    button(page, "Compare runs").click()
    dialog = page.get_by_role("dialog", name="Compare runs")
    choices = dialog.locator("#compare-metric option").all_text_contents()
    assert "Energy distance" in choices and "Critic's distance estimate" not in choices, choices
    dialog.get_by_role("button", name="Close").click()


def test_inside_the_network_has_rows_per_stack(page: Page, shot) -> None:
    """Each of the family's stacks gets its group of rows, named by the stack (the snapshot's `stack`)."""
    dense = [{"type": "dense", "units": 16, "activation": "relu"}]
    raw = {**SPEC, "model": {"latent_dim": 2, "generator": {"layers": dense * 2}, "discriminator": {"layers": dense}},
           "training": {**SPEC["training"], "epochs": 400}}
    spec = base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")
    page.goto(f"/#spec={spec}")
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    wait_valid(page)
    button(page, "Train").click()
    region = page.locator("#insides")
    heads = region.locator(".insides-stack")
    expect(heads).to_have_text(["Generator", "Discriminator"], timeout=30_000)
    gen = region.locator(".insides-row[data-stack='generator']")
    disc = region.locator(".insides-row[data-stack='discriminator']")
    expect(gen.locator(".insides-name")).to_have_text(["dense 1 · relu", "dense 2 · relu", "output"])
    expect(disc.locator(".insides-name")).to_have_text(["dense 1 · relu", "output"])
    disc.first.click()
    detail = region.locator(".insides-detail")
    expect(detail.locator(".insides-detail-title")).to_have_text("Discriminator dense 1: histograms over time")
    expect(detail.locator("canvas.hist-map")).to_have_count(3)
    shot(page, "gan-insides")
    button(page, "Stop").click()


def test_the_wasserstein_loss_is_chosen_in_the_page_and_its_critic_is_charted(page: Page, shot) -> None:
    """The loss is a select among the GAN's options; a critic refuses batchnorm with a one-click fix;
    its run charts the critic's estimate and hides the D-probability chart it has no values for."""
    raw = {**SPEC, "training": {**SPEC["training"], "d_lr": 0.002, "epochs": 400}}
    spec = base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")
    page.goto(f"/#spec={spec}")
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    loss = page.get_by_label("GAN loss")
    expect(loss).to_have_value("")  # unset: the default, the standard loss
    disc = page.get_by_role("list", name="Discriminator layers")
    drag_into(page, "BatchNorm", disc)
    wait_valid(page)  # the standard loss takes batchnorm
    loss.select_option("wasserstein_gp")
    fix = disc.get_by_role("button", name="Remove this layer")
    expect(fix).to_be_visible()
    expect(disc).to_contain_text("mixes the batch")
    fix.click()
    expect(disc.locator(":scope > li")).to_have_count(1)
    wait_valid(page)
    button(page, "Train").click()
    page.wait_for_function("() => Number(document.querySelector('#chart-critic')?.dataset.points) >= 5", timeout=60_000)
    expect(page.locator("#chart-critic").locator("xpath=ancestor::section[1]")).to_be_visible()
    expect(page.locator("#chart-d_out").locator("xpath=ancestor::section[1]")).to_be_hidden()
    expect(page.locator("#view-gan_samples .point-key")).to_contain_text("the critic's score")
    shot(page, "gan-wasserstein")
    button(page, "Stop").click()
    expect(status(page)).to_have_text("Stopped")
    # Compare offers what the run has: the critic's estimate, not D's probabilities.
    button(page, "Compare runs").click()
    dialog = page.get_by_role("dialog", name="Compare runs")
    choices = dialog.locator("#compare-metric option").all_text_contents()
    assert "Critic's distance estimate" in choices and "D on real points" not in choices, choices
    dialog.get_by_role("button", name="Close").click()
    # The example that teaches it loads with the choice made.
    page.get_by_label("Load an example").select_option(label="WGAN-GP: a critic on the ring")
    expect(loss).to_have_value("wasserstein_gp")
    expect(page.get_by_label("D steps per G step")).to_have_value("5")
    expect(page.get_by_label("Minibatch std for D")).not_to_be_checked()
    wait_valid(page)

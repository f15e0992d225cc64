"""The autoencoder in the page: chosen as the digits' task, its encoder and decoder stacks built
from the palette, trained with its views updating, and a bottleneck remedy forking an overlaid run."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from browserkit import button, palette_item, set_field, wait_valid

pytestmark = pytest.mark.browser


def drag_into(page: Page, label: str, target, top: bool = False) -> None:
    """A real mouse drag from the palette into the list `target`, to its end (or its top)."""
    src = palette_item(page, label).bounding_box()
    before = target.locator(":scope > li").count()
    page.mouse.move(src["x"] + src["width"] / 2, src["y"] + src["height"] / 2)
    page.mouse.down()
    page.mouse.move(src["x"] + src["width"] / 2 + 5, src["y"] + src["height"] / 2 + 5, steps=3)

    def aim() -> tuple[float, float]:
        box = target.bounding_box()  # an empty list is a thin drop zone: aim at its middle
        return box["x"] + box["width"] / 2, box["y"] + (box["height"] / 2 if before == 0 else 4 if top else
                                                        box["height"] - 4)

    x, y = aim()
    page.mouse.move(x, y, steps=15)
    # Passing over the other stack on the way opened a gap there and moved this one: aim again.
    for _ in range(2):
        x, y = aim()
        page.mouse.move(x, y + 1, steps=3)
    page.mouse.move(x, y + 2, steps=2)
    page.mouse.up()
    expect(target.locator(":scope > li")).to_have_count(before + 1)


def test_an_autoencoder_is_built_trained_and_forked(page: Page, shot) -> None:
    page.set_viewport_size({"width": 1280, "height": 1300})  # both stacks and the palette on screen for the drags
    page.get_by_label("Dataset", exact=True).select_option("digits")
    page.get_by_label("Task", exact=True).select_option("reconstruction")
    enc = page.get_by_role("list", name="Encoder layers")
    dec = page.get_by_role("list", name="Decoder layers")
    expect(enc).to_be_visible()
    expect(dec).to_be_visible()
    expect(enc.locator(":scope > li")).to_have_count(0)
    drag_into(page, "Dense", enc)
    drag_into(page, "Flatten", enc, top=True)
    expect(enc.locator(":scope > li").first).to_contain_text("Flatten")
    drag_into(page, "Dense", dec)  # the palette feeds both stacks
    expect(page.get_by_label("Latent dimensions")).to_have_value("2")
    # A code as wide as the 64 pixels, without denoising: the diagnosis says it can copy its input.
    page.get_by_label("Latent dimensions").fill("64")
    set_field(page, "Epochs", "25")
    wait_valid(page)
    button(page, "Train").click()
    region = page.get_by_role("region", name="Reconstructions")
    expect(region).to_be_visible()
    page.wait_for_function("() => Number(document.querySelector('#view-reconstructions').dataset.epoch || 0) >= 1",
                           timeout=60_000)
    expect(region.locator("canvas.heat")).to_have_count(16)  # 8 originals over 8 reconstructions
    expect(region).to_contain_text("reconstruction")
    page.get_by_role("tab", name="Latent space").click()
    latent = page.get_by_role("region", name="Latent space")
    expect(latent).to_be_visible()
    expect(latent).to_contain_text("principal components", timeout=60_000)
    remedy = page.locator("#diagnosis").get_by_role("button", name="latent_dim = 8", exact=True)
    expect(remedy).to_be_visible(timeout=90_000)
    expect(page.locator("#diagnosis")).to_contain_text("identity")
    remedy.click()
    legend = page.get_by_role("list", name="Runs").get_by_role("listitem")
    expect(legend).to_have_count(2)
    expect(legend.nth(1)).to_have_attribute("aria-label", "Run 2 · latent_dim = 8")  # a remedy run is named for its remedy
    shot(page, "autoencoder-remedy-overlay")


@pytest.mark.outcome
def test_the_denoising_lesson_opens_by_its_link_and_its_claim_shows(fresh_page, shot) -> None:
    page = fresh_page("/lessons/denoising_autoencoder")
    region = page.get_by_role("region", name="Lesson 9: A denoising autoencoder cleans up noisy digits")
    expect(region).to_be_visible()
    expect(page.get_by_role("list", name="Encoder layers")).to_be_visible()
    expect(page.get_by_label("Denoise (noise std)")).to_have_value("0.3")
    page.get_by_role("button", name="Run the lesson").click()
    expect(page.locator("#lesson-result")).to_contain_text("The claim showed.", timeout=90_000)
    expect(page.locator("#lesson-result")).to_contain_text("noisy digits themselves")
    recon = page.get_by_role("region", name="Reconstructions")
    expect(recon).to_contain_text("noisy input")
    expect(recon.locator("canvas.heat")).to_have_count(24)  # noisy, reconstructed, clean: 8 each
    shot(page, "lesson-denoising")

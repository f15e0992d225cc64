"""Lessons in real Chromium: opened by their links, run, overlaid, and their claim shown in words."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from browserkit import assert_fits, layer_labels

pytestmark = [pytest.mark.browser, pytest.mark.outcome]
TRAIN_S = 90_000  # ms: a lesson's runs train for a few seconds each; a loaded CI machine is slower


def lesson_region(page: Page):
    return page.get_by_role("region", name="Lesson 1: Underfitting: a straight line cannot draw a circle")


def run_lesson(page: Page) -> None:
    page.get_by_role("button", name="Run the lesson").click()
    expect(page.locator("#lesson-result")).to_contain_text("The claim showed.", timeout=TRAIN_S)


def test_a_lesson_link_opens_it_runs_it_and_its_next_step_forks(fresh_page, shot) -> None:
    page = fresh_page("/lessons/underfitting")
    region = lesson_region(page)
    expect(region).to_be_visible()
    expect(region).to_contain_text("A network with no hidden layer is a linear model")
    assert layer_labels(page) == []  # the lesson's network: no hidden layer
    expect(page.get_by_label("Lessons")).to_have_value("underfitting")
    run_lesson(page)
    expect(page.locator("#lesson-result")).to_contain_text("underfitting")
    expect(page.get_by_role("list", name="Runs").get_by_role("listitem")).to_have_count(1)

    page.get_by_role("button", name="Try this next: Add a hidden layer").click()
    expect(page.locator("#lesson-result")).to_contain_text("good_fit", timeout=TRAIN_S)
    expect(page.locator("#lesson-result")).to_contain_text("The claim showed.")
    assert layer_labels(page) == ["Dense"]  # the builder shows the fork's network
    legend = page.get_by_role("list", name="Runs").get_by_role("listitem")
    expect(legend).to_have_count(2)  # overlaid on the first
    expect(page.locator(".lesson-claim[data-held='true']")).to_have_count(2)
    shot(page, "lesson-underfitting")


def test_the_four_cures_overlay_on_the_original(fresh_page, shot) -> None:
    page = fresh_page("/lessons/four_cures")
    run_lesson(page)
    legend = page.get_by_role("list", name="Runs").get_by_role("listitem")
    expect(legend).to_have_count(5)
    for label in ("Original", "More data", "Smaller model", "Early stopping", "L2"):
        expect(page.get_by_role("list", name="Runs")).to_contain_text(label)
    expect(page.locator("#lesson-result")).to_contain_text("Val loss of the weights kept")
    shot(page, "lesson-four-cures")


def test_a_cnn_lesson_is_readable_at_1024_by_768(fresh_page, shot) -> None:
    page = fresh_page("/lessons/cnn_vs_mlp")
    page.set_viewport_size({"width": 1024, "height": 768})
    region = page.get_by_role("region", name="Lesson 7: A CNN against an MLP on handwritten digits")
    expect(region).to_be_visible()
    assert layer_labels(page) == ["Conv2D", "MaxPool2D", "Flatten", "Dense"]
    run_lesson(page)
    expect(page.locator("#lesson-result")).to_contain_text("parameters")
    assert_fits(page, 1024, ("#lesson", "#lesson-text", "#lesson-result", "#btn-train", "#loss-chart"))
    size = page.locator("#lesson-text p").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 12
    box = page.locator("#lesson").bounding_box()
    assert box and box["height"] <= 0.4 * 768  # the lesson leaves the workspace on screen
    shot(page, "lesson-cnn-1024")


def test_the_gan_lesson_shows_coverage_and_collapse(fresh_page, shot) -> None:
    """Lesson 10 by its link: both GANs train side by side, and the claim quotes the modes and the verdict."""
    page = fresh_page("/lessons/gan_ring")
    region = page.get_by_role("region", name="Lesson 10: A GAN learns a ring of 8 Gaussians, and mode collapse")
    expect(region).to_contain_text("mode collapse")
    expect(page.get_by_role("list", name="Generator layers")).to_be_visible()
    run_lesson(page)
    result = page.locator("#lesson-result")
    expect(result).to_contain_text("of the 8 modes")
    expect(result).to_contain_text("mode_collapse")
    expect(page.locator(".lesson-claim[data-held='true']")).to_have_count(3)
    shot(page, "lesson-gan")

"""The page at the sizes it supports, with screenshots of the main states to look at."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from browserkit import assert_fits, button, set_field, wait_for_chart, wait_valid

pytestmark = pytest.mark.browser


MAIN_PARTS = ("#btn-train", "#epoch", "#loss-chart", "#output-canvas", "#stack", "#data-panel")


def test_first_load_at_1280(page: Page, shot) -> None:
    expect(page.locator("#output-caption")).to_contain_text("The data")
    assert_fits(page, 1280, MAIN_PARTS)
    shot(page, "initial-1280")


def test_training_at_1024(page: Page, shot) -> None:
    page.set_viewport_size({"width": 1024, "height": 800})
    wait_valid(page)
    button(page, "Train").click()
    wait_for_chart(page, min_points=60)
    expect(page.locator("#output-caption")).to_contain_text("Decision boundary at epoch")
    assert_fits(page, 1024, MAIN_PARTS)
    shot(page, "training-1024")


def test_regression_draws_the_fitted_curve(page: Page, shot) -> None:
    page.get_by_label("Load an example").select_option(label="Regression: noisy sine")
    wait_valid(page)
    button(page, "Train").click()
    wait_for_chart(page, min_points=40)
    expect(page.locator("#output-caption")).to_contain_text("Fitted curve at epoch")
    expect(page.locator("#acc-panel")).to_be_hidden()  # regression has no accuracy
    shot(page, "regression-curve")


def test_digits_show_sample_images_and_train_a_cnn(page: Page, shot) -> None:
    page.get_by_label("Load an example").select_option(label="CNN on 8x8 digits")
    wait_valid(page)
    expect(page.locator(".preview-caption")).to_contain_text("images")
    set_field(page, "Epochs", "5")
    wait_valid(page)
    button(page, "Train").click()
    wait_for_chart(page, min_points=2)
    shot(page, "digits-cnn")

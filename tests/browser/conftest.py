"""Browser tests: a real `layerlab serve` in a subprocess, driven through real Chromium.

Every test gets a fresh browser context at 1280x800 and fails on any console error or
uncaught exception in the page.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 800}

sys.path.insert(0, str(ROOT / "scripts"))
import find_chromium  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_command() -> list[str]:
    exe = ROOT / ".venv" / "bin" / "layerlab"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "server.cli"]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a real server on a free port with its own SQLite file."""
    tmp = tmp_path_factory.mktemp("browser")
    port = _free_port()
    log = open(tmp / "server.log", "w+")
    cmd = _serve_command() + ["serve", "--host", "127.0.0.1", "--port", str(port), "--db", str(tmp / "test.db")]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/health", timeout=1) as res:
                if res.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.seek(0)
            pytest.fail(f"the server did not start:\n{log.read()[-4000:]}")
        time.sleep(0.2)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    path = find_chromium.find() or find_chromium.install()
    if not path:
        pytest.fail("no Chromium: install Debian's 'chromium' or set LAYERLAB_CHROMIUM")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Console:
    """Console errors and uncaught exceptions seen by one page."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def _on_console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.errors.append(f"console: {msg.text} at {msg.location}")


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    """The page loaded and ready (catalog fetched, stack drawn); fails the test on console errors."""
    context = browser.new_context(viewport=VIEWPORT, base_url=server)
    page = context.new_page()
    page.set_default_timeout(15_000)
    console = Console(page)
    page.goto("/")
    page.wait_for_selector("body[data-ready='true']")
    yield page
    errors = list(console.errors)
    context.close()
    assert not errors, "errors in the browser console:\n" + "\n".join(errors)


@pytest.fixture
def fresh_page(browser: Browser, server: str) -> Iterator:
    """fresh_page(path) -> a page in a new browser context (no cookies, no localStorage: another
    person's browser), loaded and ready; each fails the test on console errors as `page` does."""
    opened: list[tuple] = []

    def open_page(path: str) -> Page:
        context = browser.new_context(viewport=VIEWPORT, base_url=server)
        p = context.new_page()
        p.set_default_timeout(15_000)
        opened.append((context, Console(p)))
        p.goto(path)
        p.wait_for_selector("body[data-ready='true']")
        return p

    yield open_page
    errors = [e for _, console in opened for e in console.errors]
    for context, _ in opened:
        context.close()
    assert not errors, "errors in the browser console:\n" + "\n".join(errors)


@pytest.fixture
def shot():
    """shot(page, name): save a screenshot under test-output/screenshots/."""
    SHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str) -> Path:
        path = SHOTS / f"{name}.png"
        page.screenshot(path=str(path))
        return path

    return take

"""Boundary refreshes and epochs per second as the page shows them, in real Chromium (issue 16).

A `layerlab serve` process and a headless Chromium page: the spec goes in the URL hash, Train is
pressed, and after a warm-up the page is watched for WINDOW_S seconds. Boundary Hz counts the
decision-boundary redraws (each one changes the caption "Decision boundary at epoch N"); epochs/s
is the toolbar's epoch counter over the same window; `engine` is the path the toolbar names.
Wall-clock figures on a shared machine: rerun before reading much into one.
"""

from __future__ import annotations

import base64
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from .server_bench import ROOT, serve_process

sys.path.insert(0, str(ROOT / "scripts"))
import find_chromium  # noqa: E402

WARMUP_S = 3.0
WINDOW_S = 8.0
# Long enough that the fastest case (fused, about 1,000 epochs/s here) is still training when the window
# closes; the bench's server allows it.
EPOCHS = 50_000


def _spec(hidden: list[int], batch: int, act: str = "tanh") -> dict[str, Any]:
    return {"data": {"dataset": "circle", "n_samples": 357, "noise": 0.1},
            "model": {"layers": [{"type": "dense", "units": u, "activation": act} for u in hidden]},
            "training": {"optimizer": "sgd", "lr": 0.03, "batch_size": batch, "epochs": EPOCHS, "device": "cpu"}}


CASES = (("2-4-2 tanh, batch 10 (TF Playground's default)", _spec([4, 2], 10)),
         ("2-4-2 tanh, batch 1", _spec([4, 2], 1)),
         ("6 x 8 tanh, batch 10", _spec([8] * 6, 10)))

WATCH = """() => {
  window.__redraws = 0;
  const cap = document.querySelector('#output-caption');
  new MutationObserver(() => { if (/^Decision boundary at epoch/.test(cap.textContent)) window.__redraws++; })
    .observe(cap, { childList: true, characterData: true, subtree: true });
}"""


def measure(page: Any, base: str, spec: dict[str, Any]) -> dict[str, Any]:
    hash_ = base64.urlsafe_b64encode(json.dumps(spec).encode()).decode().rstrip("=")
    page.goto(f"{base}/#spec={hash_}")
    page.wait_for_selector("body[data-ready='true']")
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function("() => Number(document.querySelector('#epoch').textContent) > 0")
    time.sleep(WARMUP_S)
    page.evaluate(WATCH)
    e0, t0 = int(page.locator("#epoch").text_content()), time.monotonic()
    time.sleep(WINDOW_S)
    e1, t1 = int(page.locator("#epoch").text_content()), time.monotonic()
    redraws = page.evaluate("() => window.__redraws")
    engine = page.locator("#run-engine").text_content()
    page.get_by_role("button", name="Stop", exact=True).click()
    return {"hz": redraws / (t1 - t0), "epochs": (e1 - e0) / (t1 - t0), "engine": engine}


def main() -> None:
    path = find_chromium.find()
    if not path:
        print("boundary bench: no Chromium found (scripts/find_chromium.py)")
        return
    print(f"boundary redraws and epochs/s in headless Chromium, {WINDOW_S:.0f} s windows, wall clock")
    head = f"{'workload':<48}{'boundary Hz':>12}{'epochs/s':>10}  engine"
    lines = [head, "-" * len(head)]
    with tempfile.TemporaryDirectory(prefix="layerlab-boundary-") as tmp, \
            serve_process(Path(tmp) / "bench.db", max_epochs=str(EPOCHS)) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        for name, spec in CASES:
            r = measure(page, server.base, spec)
            lines.append(f"{name:<48}{r['hz']:>12.1f}{r['epochs']:>10,.0f}  {r['engine']}")
        browser.close()
    print("\n".join(lines))


if __name__ == "__main__":
    main()

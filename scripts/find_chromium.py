"""Find a Chromium for the browser tests, installing one if none is present.

Order: $LAYERLAB_CHROMIUM, a system Chromium, Playwright's own download (where the
network allows it), then Debian's package through apt-get (needs root).
Prints the executable's path; exits 1 if no Chromium could be had.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys

SYSTEM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _playwright_bundled() -> str | None:
    root = os.environ.get("PLAYWRIGHT_BROWSERS_PATH", os.path.expanduser("~/.cache/ms-playwright"))
    hits = sorted(glob.glob(os.path.join(root, "chromium-*", "chrome-linux*", "chrome")))
    return hits[-1] if hits else None


def find() -> str | None:
    """Return a usable Chromium path without installing anything."""
    env = os.environ.get("LAYERLAB_CHROMIUM")
    if env and os.access(env, os.X_OK):
        return env
    for name in SYSTEM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return _playwright_bundled()


def _try(cmd: list[str], timeout: int) -> bool:
    try:
        return subprocess.run(cmd, timeout=timeout, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def install() -> str | None:
    """Find a Chromium, trying Playwright's download and then apt-get."""
    path = find()
    if path:
        return path
    _try([sys.executable, "-m", "playwright", "install", "chromium"], timeout=300)
    path = find()
    if path:
        return path
    if shutil.which("apt-get") and os.geteuid() == 0:
        _try(["apt-get", "update", "-qq"], timeout=300)
        _try(["apt-get", "install", "-y", "-qq", "chromium"], timeout=600)
    return find()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--install", action="store_true", help="install one if none is found")
    args = parser.parse_args()
    path = install() if args.install else find()
    if not path:
        print("no Chromium found: install Debian's 'chromium' or set LAYERLAB_CHROMIUM", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

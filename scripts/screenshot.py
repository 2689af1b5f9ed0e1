"""Take full-page screenshots of app pages with Debian's Chromium (for README and review).

Usage: python scripts/screenshot.py BASE_URL OUT_DIR PATH [PATH ...]
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main(argv: list[str]) -> int:
    """Screenshot each path under BASE_URL into OUT_DIR."""
    base, out, paths = argv[0].rstrip("/"), Path(argv[1]), argv[2:]
    out.mkdir(parents=True, exist_ok=True)
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for path in paths:
            page.goto(base + path)
            name = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"
            page.screenshot(path=str(out / f"{name}.png"), full_page=True)
            print(out / f"{name}.png")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""A `$BROWSER` for tests: opens the URL in headless Chromium (Playwright) and clicks a button.

Usage (as webbrowser runs it): BROWSER="python chromium.py %s". Environment:
  SSO_TRAY_TEST_CLICK   allow (default), deny, or none (just load the page)
  SSO_TRAY_TEST_BROWSER_LOG  a file that gets one line per URL opened (to count tabs)
  SSO_TRAY_TEST_SHOT    optional PNG path: a screenshot of the page after the click
"""

import os
import sys
import tempfile

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def main(url: str) -> int:
    log = os.environ.get("SSO_TRAY_TEST_BROWSER_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(url.split("?")[0] + "\n")
    click = os.environ.get("SSO_TRAY_TEST_CLICK", "allow")
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            profile, executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page()
        page.goto(url)
        if click != "none":
            page.click(f"#{click}")
            page.wait_for_load_state("load")
        shot = os.environ.get("SSO_TRAY_TEST_SHOT")
        if shot:
            page.screenshot(path=shot)
        text_out = os.environ.get("SSO_TRAY_TEST_PAGE_TEXT")
        if text_out:
            with open(text_out, "w", encoding="utf-8") as f:
                f.write(page.inner_text("body"))
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

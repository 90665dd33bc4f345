"""The finder page from the real tray on a virtual desktop: a newcomer with an empty HOME clicks
"Set up AWS SSO…", fills in the page's form in Chromium, approves the sign-in on the (simulated) Identity
Center page, and the tray's menu shows the session signed in; `sso-tray find` reaches that tray's page,
and no longer once the tray has quit.
"""

from __future__ import annotations

import json
import re
import sys
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import BROWSERS, need_program, run_cli
from desktop import VirtualDesktop, wait_for
from test_finder import chromium, open_page, shot, wait_js  # noqa: F401 - chromium is a fixture

pytestmark = [pytest.mark.display, pytest.mark.browser]

SETUP = "Set up AWS SSO…"
SIGNED_IN = re.compile(r"^example — (\d+h )?\d+m left, until \d\d:\d\d$")

# A $BROWSER that plays the person: the Identity Center's sign-in page goes to Chromium, where Allow is
# clicked (tests/browsers/chromium.py); any other page (the finder) is written down for the test to open.
BROWSER_SCRIPT = """import os, sys
url = sys.argv[1]
if url.startswith(os.environ["SSO_TRAY_TEST_SIMULATOR"]):
    os.execv(sys.executable, [sys.executable, {chromium!r}, url])
with open({opened!r}, "a") as f:
    f.write(url + "\\n")
"""


@pytest.fixture
def desktop(tmp_path):
    need_program("xwininfo")
    with VirtualDesktop(tmp_path / "desktop") as d:
        yield d


def test_set_up_from_an_empty_home_to_a_signed_in_tray(desktop, simulator, chromium, home, tmp_path, monkeypatch):
    need_program("chromium")
    simulator.options.auto_approve = False  # the person clicks Allow on the simulator's page
    opened = tmp_path / "opened.txt"
    script = tmp_path / "browser.py"
    script.write_text(BROWSER_SCRIPT.format(chromium=str(BROWSERS / "chromium.py"), opened=str(opened)), encoding="utf-8")
    monkeypatch.setenv("SSO_TRAY_TEST_SIMULATOR", simulator.url)
    monkeypatch.setenv("BROWSER", f"{sys.executable} {script} %s")
    monkeypatch.setenv("SSO_TRAY_TEST_CLICK", "allow")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", simulator.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", simulator.url)
    assert not (home / ".aws").exists()

    tray = desktop.start_tray(tmp_path / "logs")
    try:
        tray.wait_menu(lambda m: SETUP in m.labels(), 20, f"{SETUP} in the menu")
        tray.click(SETUP)
        try:
            url = wait_for(lambda: opened.exists() and opened.read_text(encoding="utf-8").strip(), 20, 0.1, "the finder page opened")
        except AssertionError as e:
            raise AssertionError(f"{e}\nmenu:\n{tray.layout().dump()}\ntray stderr:\n{tray.stderr[-2000:]}") from None
        assert parse_qs(urlsplit(url).query)["setup"] == ["1"]
        secret = json.loads((home / ".cache" / "sso-tray" / "locks" / "finder.json").read_text(encoding="utf-8"))["key"]
        assert secret not in url  # the browser's command line carries a one-time ticket, not the secret

        page = open_page(chromium, url)
        page.wait_for_selector("#setup:not([hidden])")
        assert page.evaluate("document.activeElement.id") == "start-url"
        page.fill("#start-url", "https://example.awsapps.com/start")
        page.fill("#region", "eu-west-1")
        page.click("#setup-submit")
        wait_js(page, "document.getElementById('setup').hidden", 20)

        config = (home / ".aws" / "config").read_text(encoding="utf-8")
        assert "[sso-session example]" in config and "sso_region = eu-west-1" in config
        layout = tray.wait_menu(lambda m: SIGNED_IN.match(m.children[0].label), 90, "the new session signed in")
        assert SETUP not in layout.labels()
        assert [r["code_challenge_method"] for r in simulator.authorize_requests()] == ["S256"]
        page.wait_for_selector("#sessions li.valid", timeout=20000)
        assert page.inner_text("#sessions li .name") == "example"
        wait_js(page, "document.getElementById('message').textContent === 'Signed in to example.'")
        shot(page, "setup-done.png")

        # "Find a role…" opens the page (a new tab, a new one-time ticket: the first one is spent)
        tray.click("Find a role…")
        urls = wait_for(lambda: (lambda u: u if len(u) == 2 else None)(opened.read_text(encoding="utf-8").split()), 20, 0.1, "a second page")
        assert set(parse_qs(urlsplit(urls[1]).query)) == {"ticket"}
        again = open_page(chromium, url)
        assert again.inner_text("body").strip() == "forbidden"
        found_page = open_page(chromium, urls[1])
        wait_js(found_page, "document.querySelectorAll('#roles li').length > 0", 20)
        assert not found_page.is_visible("#setup")

        # `sso-tray find` reaches this tray's page through its channel file
        found = run_cli("find", "staging", "--print-url", env=desktop.env)
        assert found.returncode == 0, found.stderr
        assert urlsplit(found.stdout.strip()).netloc == urlsplit(url).netloc
        by_find = open_page(chromium, found.stdout.strip())
        assert by_find.input_value("#search") == "staging"
        for secret in (secret, parse_qs(urlsplit(url).query)["ticket"][0]):
            assert secret not in tray.stderr and secret not in tray.stdout  # never logged
        assert "Traceback" not in tray.stderr
    finally:
        tray.stop()
        desktop.end_processes(HOME=str(home))
    gone = run_cli("find", "--print-url", env=desktop.env)
    assert gone.returncode == 2 and "the tray is not running" in gone.stderr


"""The demo's printed next steps work as printed (issue 19, item 8): pasted into a fresh shell with nothing
on PATH but the system's and no AWS variables, they reach the running demo — sso-tray by its full path, the
demo's files for sso-tray and for the AWS CLI, and the console through the simulator's federation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, aws_cli, need_program
from desktop import VirtualDesktop, wait_for


# A browser as far as the console needs one: follows redirects with cookies, keeps the page it lands on.
BROWSER = """import http.cookiejar, sys, urllib.request
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
page = opener.open(sys.argv[1], timeout=30).read().decode()
open(sys.argv[2], "w", encoding="utf-8").write(page)
"""


def printed_steps(stdout: str) -> list[str]:
    """The indented lines under the demo's "In another terminal" heading."""
    after = stdout.split("In another terminal", 1)[1].splitlines()[1:]
    steps = []
    for line in after:
        if not line.startswith("  "):
            break
        steps.append(line.strip())
    return steps


@pytest.mark.display
@pytest.mark.slow
def test_the_demos_next_steps_work_as_printed_in_a_fresh_shell(tmp_path):
    bash = need_program("bash")
    fresh_home = tmp_path / "fresh-home"
    fresh_home.mkdir()
    browser, page = tmp_path / "browser.py", tmp_path / "page.html"
    browser.write_text(BROWSER, encoding="utf-8")
    with VirtualDesktop(tmp_path / "desktop") as desktop:
        tray = desktop.start_tray(tmp_path / "logs", args=("demo", "--accounts", "3"))
        try:
            wait_for(lambda: "console demo-admin" in tray.stdout or not tray.alive(), 90, 0.1, "the demo's next steps")
            steps = printed_steps(tray.stdout)
            assert len(steps) == 4, tray.stdout + tray.stderr
            simulator = next(word.split("=", 1)[1] for word in steps[0].split() if word.startswith("AWS_ENDPOINT_URL_SSO="))
            # after the printed lines: the AWS CLI in that terminal reads the demo's credentials file, not ~/.aws
            checks = (f"{steps[1].rsplit(' ', 1)[0]} write demo-admin >/dev/null\n"
                      f"{aws_cli()} configure get aws_access_key_id --profile demo-admin\n"
                      "test ! -e ~/.aws/credentials\n")
            script = "set -euo pipefail\n" + "\n".join(steps) + "\n" + checks
            env = {"PATH": "/usr/bin:/bin", "HOME": str(fresh_home), "LANG": "C.UTF-8",
                   "BROWSER": f"{sys.executable} {browser} %s {page}"}
            with open(tmp_path / "out", "wb") as out, open(tmp_path / "err", "wb") as err:  # files: xclip-proof
                result = subprocess.run([bash, "--noprofile", "--norc", "-c", script], env=env, stdout=out, stderr=err, timeout=120)
            stdout, stderr = (tmp_path / "out").read_text(encoding="utf-8"), (tmp_path / "err").read_text(encoding="utf-8")
            assert result.returncode == 0, stderr
        finally:
            tray.stop()
    assert "demo-admin" in stdout and "export AWS_ACCESS_KEY_ID=" in stdout
    assert stdout.splitlines()[-1].startswith("ASIA")  # the key the AWS CLI read from the demo's file
    # signed in through the simulator's federation endpoint (AWS's is out of reach here): its console page
    assert "Opened the AWS console as dev-0 / " in stderr, stderr
    text = page.read_text(encoding="utf-8")
    assert "AWS Management Console" in text and "111100000000" in text
    assert simulator.startswith("http://127.0.0.1:")


@pytest.mark.display
@pytest.mark.slow
def test_the_headless_demo_says_its_folder_is_gone(tmp_path):
    need_program("Xvfb")
    with open(tmp_path / "out", "wb") as out, open(tmp_path / "err", "wb") as err:  # files: xclip-proof
        result = subprocess.run([sys.executable, str(ROOT / "scripts" / "headless_demo.py"), "--accounts", "3", "--out", str(tmp_path)],
                                stdout=out, stderr=err, timeout=240)
    stdout = (tmp_path / "out").read_text(encoding="utf-8")
    assert result.returncode == 0, (tmp_path / "err").read_text(encoding="utf-8")
    home = stdout.split("throw-away home ", 1)[1].split()[0]
    assert f"throw-away home {home} is gone, so the lines above no longer work" in stdout
    assert not Path(home).exists()

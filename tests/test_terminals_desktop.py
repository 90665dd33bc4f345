"""The real tray's credentials endpoint for terminals, driven through its menu on a virtual desktop (AppIndicator's
dbusmenu, as a panel does): "Copy as auto-refreshing" puts lines on the real clipboard that a bash child's boto3
uses; "Revoke terminal tokens" ends them; Quit ends the endpoint itself.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from conftest import need_program, run_cli
from desktop import VirtualDesktop, wait_for
from test_terminals import Child, stale_environment

pytestmark = pytest.mark.display


@pytest.fixture
def tray(tmp_path, sso_env, home):
    need_program("xclip")
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    settings = home / ".config" / "sso-tray" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"clear_clipboard_after": 0}), encoding="utf-8")  # no clearing helper outliving the test
    with VirtualDesktop(tmp_path / "desktop") as desktop:
        process = desktop.start_tray(tmp_path / "logs")
        try:
            yield desktop, process
        finally:
            process.stop()
            desktop.end_processes(HOME=str(home))
    assert "Traceback" not in process.stderr, process.stderr


def copied_lines(desktop, seen: set) -> str:
    def fresh():
        text = desktop.clipboard()
        return text if "AWS_CONTAINER_AUTHORIZATION_TOKEN" in text and text not in seen else None
    text = wait_for(fresh, 15, 0.1, "auto-refreshing lines on the clipboard")
    seen.add(text)
    return text


def status_of(url: str, token: str) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": token}), timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def variables_of(lines: str) -> dict[str, str]:
    return dict(line[len("export "):].split("=", 1) for line in lines.splitlines() if line.startswith("export "))


def test_copy_revoke_and_quit_from_the_real_menu(tray, sso_env, tmp_path):
    desktop, process = tray
    sso_env.options.credential_lifetime = 500  # inside botocore's mandatory window: every read asks the tray
    process.wait_menu(lambda m: "dev-admin" in m.labels() and "Revoke terminal tokens" in m.labels(), 30, "the profiles")
    seen: set[str] = set()
    process.click("dev-admin", "Copy as auto-refreshing")
    lines = copied_lines(desktop, seen)
    variables = variables_of(lines)
    url, token = variables["AWS_CONTAINER_CREDENTIALS_FULL_URI"], variables["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    (tmp_path / "lines.sh").write_text(lines, encoding="utf-8")
    child = Child(["bash", "-c", f'. "{tmp_path / "lines.sh"}" && exec "$PYTHON" "$CHILD" "$FEDERATION"'],
                  {**stale_environment(), "PYTHON": __import__("sys").executable}, tmp_path, sso_env.url + "/federation")
    try:
        first, second = child.read(), child.read()
        assert first["accepted"] and second["accepted"] and first["key"] != second["key"]
        # the command line asks the same tray and gets the profile's same token
        printed = run_cli("export", "dev-admin", "--refreshing")
        assert printed.returncode == 0 and variables_of(printed.stdout)["AWS_CONTAINER_AUTHORIZATION_TOKEN"] == token

        process.click("Revoke terminal tokens")
        process.wait_menu(lambda m: any(label.startswith("Revoked 1 terminal token") for label in m.labels()), 15, "the outcome")
        assert "403" in child.read()["error"]
        assert status_of(url, token) == 403
        child.close()
    finally:
        child.proc.kill()

    process.click("dev-admin", "Copy as auto-refreshing")  # a new token after the revocation
    renewed = variables_of(copied_lines(desktop, seen))
    assert renewed["AWS_CONTAINER_AUTHORIZATION_TOKEN"] != token and status_of(url, renewed["AWS_CONTAINER_AUTHORIZATION_TOKEN"]) == 200
    process.click("Quit")
    assert process.proc.wait(15) == 0
    with pytest.raises(urllib.error.URLError):  # the endpoint went with the tray
        status_of(url, renewed["AWS_CONTAINER_AUTHORIZATION_TOKEN"])
    stopped = run_cli("export", "dev-admin", "--refreshing")
    assert stopped.returncode == 2 and "tray is not running" in stopped.stderr

"""Terminals that never go stale (issue 21, item 1): the tray's credentials endpoint, a real engine signed in to
the simulator behind it, read by real boto3 in child shells that took `sso-tray export --refreshing` lines
(bash and fish) or the lines "Copy as auto-refreshing" put on the clipboard; its doors tried with raw requests.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import textwrap
import urllib.request

import pytest

from conftest import need_program, run_cli
from tray.core.engine.engine import Engine
from tray.ui import terminals

TRAY = f"{sys.executable} -m tray"

CHILD = """
import json, os, sys, urllib.error, urllib.parse, urllib.request
import boto3

federation = sys.argv[1]
print(json.dumps({k: os.environ.get(k) for k in (
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_REGION")}), flush=True)
session = boto3.Session()


def accepted(key, secret, token):
    # the simulator's federation endpoint takes only unexpired credentials it issued, all three parts
    body = urllib.parse.urlencode({"Action": "getSigninToken", "Session": json.dumps(
        {"sessionId": key, "sessionKey": secret, "sessionToken": token})}).encode()
    try:
        return urllib.request.urlopen(federation, data=body, timeout=10).status == 200
    except urllib.error.HTTPError:
        return False


held = []
for line in sys.stdin:  # one read per line the test sends; "old": are the first credentials still good?
    if line.strip() == "old":
        print(json.dumps({"accepted": accepted(*held[0])}), flush=True)
        continue
    try:
        credentials = session.get_credentials()
        frozen = credentials.get_frozen_credentials()
    except Exception as e:  # what botocore shows the person
        print(json.dumps({"error": str(e)}), flush=True)
        continue
    held.append((frozen.access_key, frozen.secret_key, frozen.token))
    print(json.dumps({"key": frozen.access_key, "method": credentials.method, "accepted": accepted(*held[-1])}), flush=True)
"""


def wait_until(predicate, timeout: float = 30.0, what: str = "the condition"):
    import time

    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return value


@pytest.fixture
def tray(sso_env, home):
    """(engine, terminals, copied): a signed-in engine with its profiles, the tray's endpoint serving; what
    the engine put on the clipboard lands in `copied`."""
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    copied: list[str] = []
    engine = Engine(copy=lambda text, _clear_after: copied.append(text))
    engine.start()
    wait_until(lambda: {"dev-admin", "dev-read"} <= {r.profile for s in engine.state.sessions for a in s.accounts for r in a.roles},
               30, "the engine's profiles")
    served = terminals.Terminals(engine).start()
    yield engine, served, copied
    served.stop()
    engine.stop()


class Child:
    """A shell that took the lines, then runs CHILD: `read()` asks boto3 for credentials once."""

    def __init__(self, argv: list[str], env: dict, tmp_path, federation: str):
        path = tmp_path / "child.py"
        path.write_text(textwrap.dedent(CHILD), encoding="utf-8")
        env = {**env, "CHILD": str(path), "FEDERATION": federation}
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line, self.proc.stderr.read()
        self.environment = json.loads(line)

    def send(self, line: str) -> dict:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def read(self) -> dict:
        return self.send("read")

    def close(self) -> str:
        self.proc.stdin.close()
        assert self.proc.wait(timeout=30) == 0
        return self.proc.stderr.read()


def stale_environment() -> dict:
    """A shell that had static keys and an SSO profile: the lines must take both away."""
    return {**os.environ, "AWS_ACCESS_KEY_ID": "AKIASTALE", "AWS_SECRET_ACCESS_KEY": "stale", "AWS_PROFILE": "dev-read"}


SHELLS = {
    "bash": ["bash", "-c", f'eval "$({TRAY} export dev-admin --refreshing)" && exec {sys.executable} "$CHILD" "$FEDERATION"'],
    "fish": ["fish", "-c", f'{TRAY} export dev-admin --refreshing --format fish | source; and exec {sys.executable} $CHILD $FEDERATION'],
}


@pytest.mark.parametrize("shell", SHELLS)
def test_a_shell_gets_fresh_credentials_from_the_tray_across_an_expiry(tray, sso_env, home, tmp_path, shell):
    need_program(shell)
    engine, served, _ = tray
    sso_env.options.credential_lifetime = 700  # inside botocore's 15-minute refresh window: every read asks
    child = Child(SHELLS[shell], stale_environment(), tmp_path, sso_env.url + "/federation")
    try:
        assert child.environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] == served.endpoint.url
        assert child.environment["AWS_ACCESS_KEY_ID"] is None and child.environment["AWS_PROFILE"] is None
        assert child.environment["AWS_REGION"] == "eu-west-1"
        reads = [child.read() for _ in range(3)]
        assert all(r["method"] == "container-role" and r["accepted"] for r in reads)
        assert len({r["key"] for r in reads}) == 3  # fresh credentials each read

        sso_env.advance_time(701)  # every credential handed out so far has expired at AWS
        assert child.send("old") == {"accepted": False}
        after = child.read()
        assert after["accepted"] and after["key"] not in {r["key"] for r in reads}
        stderr = child.close()
    finally:
        child.proc.kill()
    secrets = [line.split("=", 1)[1] for line in run_cli("export", "dev-admin").stdout.splitlines() if "SECRET" in line or "SESSION_TOKEN" in line]
    assert not any(s in stderr for s in secrets)


def request(served, headers: dict, path: str = "/role-credentials") -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", served.endpoint.port, timeout=30)
    try:
        conn.request("GET", path, headers={"Host": f"127.0.0.1:{served.endpoint.port}", **headers})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_the_doors_of_the_tray_endpoint(tray):
    _, served, _ = tray
    token = served.variables_for("dev-admin")["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    assert served.variables_for("dev-admin")["AWS_CONTAINER_AUTHORIZATION_TOKEN"] == token  # one per profile
    assert served.variables_for("dev-read")["AWS_CONTAINER_AUTHORIZATION_TOKEN"] != token
    status, body = request(served, {"Authorization": token})
    assert status == 200 and set(body) >= {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}
    assert request(served, {})[0] == 401
    assert request(served, {"Authorization": token[:-1] + ("A" if token[-1] != "A" else "B")})[0] == 403
    assert request(served, {"Authorization": token, "Host": "rebound.example:80"}) == (403, {"message": "wrong Host"})
    assert request(served, {"Authorization": token, "Host": "localhost:%d" % served.endpoint.port})[0] == 403
    # the key that issues tokens is not a token, and tokens are issued only with that key
    assert request(served, {"Authorization": served.endpoint.key})[0] == 403
    conn = http.client.HTTPConnection("127.0.0.1", served.endpoint.port, timeout=30)
    conn.request("POST", "/tokens", body=b'{"profile": "dev-admin"}', headers={"Host": f"127.0.0.1:{served.endpoint.port}", "Authorization": token})
    assert conn.getresponse().status == 403
    conn.close()

    assert served.revoke_all() == 2
    status, body = request(served, {"Authorization": token})
    assert status == 403 and "revoked" in body["message"]
    fresh = served.variables_for("dev-admin")["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    assert fresh != token and request(served, {"Authorization": fresh})[0] == 200


def test_after_the_session_ends_an_sdk_is_told_to_sign_in_again(tray, sso_env, tmp_path):
    engine, served, _ = tray
    sso_env.options.credential_lifetime = 500  # inside botocore's mandatory window: a failed refresh is shown
    child = Child(SHELLS["bash"], stale_environment(), tmp_path, sso_env.url + "/federation")
    try:
        assert child.read()["accepted"]
        engine.sign_out("dev").result(30)
        error = child.read()["error"]
        assert "sign in again" in error and "dev" in error  # botocore's CredentialRetrievalError, with the tray's words
        child.close()
    finally:
        child.proc.kill()
    failed = run_cli("export", "dev-admin", "--refreshing")
    assert failed.returncode == 3 and "sign in again" in failed.stderr and failed.stdout == ""


def test_copy_as_auto_refreshing_puts_lines_that_work_on_the_clipboard(tray, sso_env, tmp_path):
    engine, served, copied = tray
    served.copy("dev-admin").result(30)
    assert "auto-refreshing" in engine.state.message and not engine.state.message_failed
    [lines] = copied
    assert "AWS_SECRET_ACCESS_KEY=" not in lines and "unset AWS_ACCESS_KEY_ID" in lines
    (tmp_path / "lines.sh").write_text(lines, encoding="utf-8")
    argv = ["bash", "-c", f'. "{tmp_path / "lines.sh"}" && exec {sys.executable} "$CHILD" "$FEDERATION"']
    child = Child(argv, stale_environment(), tmp_path, sso_env.url + "/federation")
    try:
        read = child.read()
        assert read["method"] == "container-role" and read["accepted"]
        child.close()
    finally:
        child.proc.kill()


def test_tokens_die_with_the_tray(sso_env, tray):
    engine, served, _ = tray
    printed = run_cli("export", "dev-admin", "--refreshing", "--format", "json")
    assert printed.returncode == 0, printed.stderr
    variables = json.loads(printed.stdout)
    assert variables["AWS_ACCESS_KEY_ID"] is None and variables["AWS_PROFILE"] is None
    token, url = variables["AWS_CONTAINER_AUTHORIZATION_TOKEN"], variables["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
    assert request(served, {"Authorization": token})[0] == 200

    served.stop()  # Quit
    assert not terminals.channel_file().exists()
    with pytest.raises(OSError):
        urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": token}), timeout=10)
    again = terminals.Terminals(engine).start()  # the next start: another port, and the old token is nothing there
    try:
        assert request(again, {"Authorization": token})[0] == 403
    finally:
        again.stop()
    stopped = run_cli("export", "dev-admin", "--refreshing")
    assert stopped.returncode == 2 and "tray is not running" in stopped.stderr


@pytest.mark.parametrize("fmt, expected", [
    ("bash", ["unset AWS_ACCESS_KEY_ID ", "export AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:"]),
    ("fish", ["set -e AWS_ACCESS_KEY_ID ", "; or true\n", 'set -gx AWS_CONTAINER_AUTHORIZATION_TOKEN "']),
    ("powershell", ["Remove-Item Env:AWS_ACCESS_KEY_ID, ", '$Env:AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:']),
    ("cmd", ["set AWS_SESSION_TOKEN=\n", "set AWS_CONTAINER_AUTHORIZATION_TOKEN="]),
    ("dotenv", ["AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:", "AWS_REGION=eu-west-1"]),
])
def test_every_format_carries_the_container_variables(tray, fmt, expected):
    printed = run_cli("export", "dev-admin", "--refreshing", "--format", fmt)
    assert printed.returncode == 0, printed.stderr
    for part in expected:
        assert part in printed.stdout
    assert "AWS_ACCESS_KEY_ID=" not in printed.stdout.replace("set AWS_ACCESS_KEY_ID=\n", "")


def test_the_finder_page_copies_auto_refreshing_lines_without_seeing_them(tray):
    from test_finder import login_cookie, request as page_request
    from tray.ui import finder

    engine, served, copied = tray
    page = finder.start(engine)
    page.terminals = served  # as the tray wires them
    try:
        status, _, body = page_request(page, "POST", "/api/action", cookie=login_cookie(page), origin=page.origin,
                                       body={"action": "copy_refreshing", "profile": "dev-admin", "format": "fish"})
        assert status == 200 and not json.loads(body)["failed"], body
        token = served.variables_for("dev-admin")["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
        assert f'set -gx AWS_CONTAINER_AUTHORIZATION_TOKEN "{token}"' in copied[-1]
        assert token not in body  # the page never receives the token
    finally:
        finder.stop(page)


def test_another_user_of_the_machine_is_dropped_even_with_the_token(tray):
    from conftest import need

    need(os.geteuid() == 0 and sys.platform.startswith("linux"), "asking as another user needs root (and Linux's /proc/net/tcp)")
    _, served, _ = tray
    token = served.variables_for("dev-admin")["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    probe = textwrap.dedent("""
        import http.client, sys
        conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
        conn.request("GET", "/role-credentials", headers={"Authorization": sys.stdin.read()})
        try:
            print(conn.getresponse().status)
        except (ConnectionError, http.client.RemoteDisconnected):
            print("dropped")
    """)
    asked = subprocess.run(["/usr/bin/python3", "-c", probe, str(served.endpoint.port)], input=token, user="nobody",
                           capture_output=True, text=True, timeout=30)
    assert asked.stdout.strip() == "dropped", asked.stderr
    assert request(served, {"Authorization": token})[0] == 200  # the same request from this user


@pytest.mark.display
def test_export_refreshing_copy_puts_the_lines_on_the_clipboard_and_prints_no_token(tray, xvfb, home):
    need_program("xclip")
    _, served, _ = tray
    settings = home / ".config" / "sso-tray" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"clear_clipboard_after": 0}), encoding="utf-8")  # no clearing helper outliving the test
    result = run_cli("export", "dev-admin", "--refreshing", "--copy")
    assert result.returncode == 0, result.stderr
    # the account named first (the running tray has cached the account list), the profile beside it
    assert result.stdout == "" and "Copied the bash auto-refreshing lines for dev-0 / AdministratorAccess (dev-admin)" in result.stderr
    token = served.variables_for("dev-admin")["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    pasted = subprocess.run(["xclip", "-selection", "clipboard", "-o"], capture_output=True, text=True, timeout=10).stdout
    assert f"export AWS_CONTAINER_AUTHORIZATION_TOKEN={token}" in pasted and token not in result.stderr

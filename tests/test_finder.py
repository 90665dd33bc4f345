"""The finder page (SPEC §8) served by a real engine signed in to the simulator: its security rules, each
tried as an attacker would with raw HTTP requests, and the page itself in headless Chromium (search as
you type, arrows and Enter copying the export lines to the real clipboard, the setup form), plus
`sso-tray find` reaching the running page through its channel file.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import stat
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import BROWSERS, ROOT, need_program, run_cli, sim_accounts, write_config
from tray.core.engine import Engine
from tray.ui import finder

NAMES = ["payments-prod", "payments-dev", "search-prod", "search-dev", "ledger-prod", "identity-shared"]
DOCS_SHOTS = ROOT / "docs" / "screenshots"


# --- a signed-in engine and its finder -------------------------------------------------------------------


def sign_in_to(session: str = "dev") -> None:
    """A real token from the simulator (PKCE, auto-approved) in this test's HOME."""
    from tray.core.config import AwsConfig
    from tray.core.signin import SignInOptions, login

    login(AwsConfig.load().session(session), SignInOptions(opener=lambda url: urllib.request.urlopen(url, timeout=30).read()))


def wait_until(predicate, timeout: float = 30.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def roles_of(engine: Engine) -> list:
    return [r for s in engine.state.sessions for a in s.accounts for r in a.roles]


@pytest.fixture
def running(sso_env, home):
    """(engine, finder server): the engine signed in with its accounts listed, the page serving."""
    sso_env.options.account_names = NAMES
    sso_env.options.accounts = len(NAMES)
    sso_env.options.roles_per_account = 2
    sign_in_to()
    (home / ".config" / "sso-tray").mkdir(parents=True)
    (home / ".config" / "sso-tray" / "settings.json").write_text(json.dumps({"clear_clipboard_after": 0}))
    engine = Engine()
    engine.start()
    wait_until(lambda: len(roles_of(engine)) == 2 * len(NAMES) and all(r.account_name != r.account_id for r in roles_of(engine)),
               30, "the discovered accounts")
    server = finder.start(engine)
    yield engine, server
    finder.stop(server)
    engine.stop()


def request(server, method: str, path: str, *, host: str | None = None, cookie: str | None = None,
            origin: str | None = None, body: dict | bytes | None = None, content_type: str = "application/json"):
    """One raw HTTP request: (status, headers, body text)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = {"Host": host or f"127.0.0.1:{server.port}"}
    if cookie:
        headers["Cookie"] = cookie
    if origin:
        headers["Origin"] = origin
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = content_type
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return response.status, response.headers, response.read().decode()
    finally:
        conn.close()


def login_cookie(server) -> str:
    status, headers, _ = request(server, "GET", f"/?key={server.secret}")
    assert status == 303, status
    return headers["Set-Cookie"].split(";")[0]


def check_headers(headers) -> None:
    assert headers["Cache-Control"] == "no-store"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"


def assert_no_data(text: str) -> None:
    for name in NAMES:
        assert name not in text
    assert "111100000" not in text and "AdministratorAccess" not in text


# --- security, as an attacker ------------------------------------------------------------------------------


def test_the_secret_is_exchanged_for_a_strict_httponly_cookie_and_leaves_the_url(running):
    _engine, server = running
    status, headers, body = request(server, "GET", f"/?key={server.secret}&q=pay&evil=1")
    assert status == 303
    check_headers(headers)
    assert headers["Location"] == "/?q=pay"  # the secret is gone from the address bar and history
    cookie = headers["Set-Cookie"]
    parts = [p.strip() for p in cookie.split(";")]
    assert "HttpOnly" in parts and "SameSite=Strict" in parts and "Path=/" in parts
    name, value = parts[0].split("=", 1)
    assert value != server.secret and len(value) >= 40
    status, headers, body = request(server, "GET", "/api/state", cookie=parts[0])
    assert status == 200
    check_headers(headers)
    assert {r["account_name"] for r in json.loads(body)["roles"]} == set(NAMES)


def test_every_request_without_the_cookie_is_403_with_no_data(running):
    _engine, server = running
    for method, path in [("GET", "/"), ("GET", "/api/state"), ("GET", "/finder.js"), ("GET", "/finder.css"),
                         ("GET", "/?q=pay"), ("HEAD", "/api/state"), ("GET", "/nothing")]:
        status, headers, body = request(server, method, path)
        assert status == 403, (method, path)
        check_headers(headers)
        assert "Set-Cookie" not in headers
        assert_no_data(body)
    # a cookie of the right name with a value of its own making is no better
    status, _h, body = request(server, "GET", "/api/state", cookie=f"{server.cookie_name}={server.secret}")
    assert status == 403
    assert_no_data(body)
    status, _h, body = request(server, "POST", "/api/action", origin=server.origin, body={"action": "favourite", "profile": "dev-admin"})
    assert status == 403
    assert_no_data(body)


def test_a_wrong_secret_is_403_and_sets_no_cookie(running):
    _engine, server = running
    for key in ("wrong", server.secret[:-1], server.secret + "x", "", server.cookie_value):
        status, headers, body = request(server, "GET", f"/?key={key}")
        assert status == 403, key
        assert "Set-Cookie" not in headers
        check_headers(headers)
        assert_no_data(body)


def test_a_foreign_host_is_refused_even_with_the_secret_and_the_cookie(running):
    """DNS rebinding: a page on evil.example that resolves to 127.0.0.1 sends its own name as Host."""
    _engine, server = running
    cookie = login_cookie(server)
    for host in (f"evil.example:{server.port}", f"localhost:{server.port}", "127.0.0.1", f"127.0.0.1:{server.port + 1}",
                 f"[::1]:{server.port}"):
        status, headers, body = request(server, "GET", "/api/state", host=host, cookie=cookie)
        assert status == 403, host
        assert_no_data(body)
        status, headers, _ = request(server, "GET", f"/?key={server.secret}", host=host)
        assert status == 403 and "Set-Cookie" not in headers, host
        check_headers(headers)


def test_a_post_from_a_foreign_origin_is_refused_and_nothing_is_done(running, home):
    engine, server = running
    cookie = login_cookie(server)
    for origin in ("http://evil.example", f"http://localhost:{server.port}", "null", f"http://127.0.0.1:{server.port + 1}", None):
        status, headers, body = request(server, "POST", "/api/action", cookie=cookie, origin=origin,
                                         body={"action": "favourite", "profile": "dev-admin"})
        assert status == 403, origin
        check_headers(headers)
    # a form post (text/plain, no preflight) from our own origin is refused too
    status, _h, _b = request(server, "POST", "/api/action", cookie=cookie, origin=server.origin,
                             body=b'{"action": "favourite", "profile": "dev-admin"}', content_type="text/plain")
    assert status == 415
    engine.wait_idle()
    assert "dev-admin" not in engine.state.favourite_names
    # the same request from our own origin does it: the refusals above were the checks, not a broken action
    status, _h, body = request(server, "POST", "/api/action", cookie=cookie, origin=server.origin,
                               body={"action": "favourite", "profile": "dev-admin"})
    assert status == 200, body
    assert "dev-admin" in engine.state.favourite_names


def test_get_on_an_action_is_refused(running):
    engine, server = running
    cookie = login_cookie(server)
    for path in ("/api/action", "/api/action?action=favourite&profile=dev-admin", "/api/setup"):
        status, headers, _ = request(server, "GET", path, cookie=cookie)
        assert status == 405, path
        assert headers["Allow"] == "POST"
        check_headers(headers)
        status, _h, _b = request(server, "GET", path)
        assert status == 403
    engine.wait_idle()
    assert "dev-admin" not in engine.state.favourite_names


def test_no_secret_ever_reaches_the_page_or_the_log(running, home, capfd):
    engine, server = running
    cookie = login_cookie(server)
    bodies = []
    for action in ({"action": "write", "profile": "dev-admin"}, {"action": "pin", "profile": "dev-read"}):
        status, _h, body = request(server, "POST", "/api/action", cookie=cookie, origin=server.origin, body=action)
        assert status == 200, body
        bodies.append(body)
    assert "Wrote [dev-admin]" in json.loads(bodies[0])["message"]
    for path in ("/", "/api/state", "/finder.js"):
        bodies.append(request(server, "GET", path, cookie=cookie)[2])
    written = (home / ".aws" / "credentials").read_text()
    secrets_on_disk = re.findall(r"^aws_(?:secret_access_key|session_token) = (.+)$", written, re.M)
    assert len(secrets_on_disk) == 4  # dev-admin written, dev-read kept fresh
    token = json.loads(next((home / ".aws" / "sso" / "cache").glob("*.json")).read_text())
    secrets_on_disk += [token["accessToken"], token["refreshToken"], token["clientSecret"]]
    for body in bodies:
        for secret in secrets_on_disk:
            assert secret not in body
    state = json.loads(bodies[-2])
    assert next(r for r in state["roles"] if r["profile"] == "dev-read")["pinned"] is True
    out, err = capfd.readouterr()
    assert server.secret not in out + err and server.cookie_value not in out + err


def test_actions_check_what_they_are_given(running):
    engine, server = running
    cookie = login_cookie(server)
    for body, why in [({"action": "copy", "profile": "../../etc/passwd"}, "no such profile"),
                      ({"action": "copy", "profile": "dev-admin", "format": "evil"}, "no such format"),
                      ({"action": "rm", "profile": "dev-admin"}, "no such action"),
                      ({"action": "sign_in", "session": "nope"}, "no such session")]:
        status, _h, text = request(server, "POST", "/api/action", cookie=cookie, origin=server.origin, body=body)
        assert (status, json.loads(text)["error"]) == (400, why)
    status, _h, _t = request(server, "POST", "/api/action", cookie=cookie, origin=server.origin, body=b"[1]")
    assert status == 400


def test_the_page_data_names_configured_profiles_beside_their_roles(running, sso_env):
    engine, server = running
    cookie = login_cookie(server)
    data = json.loads(request(server, "GET", "/api/state", cookie=cookie)[2])
    first = sim_accounts(sso_env)[0]
    admin = next(r for r in data["roles"] if r["profile"] == "dev-admin")
    assert admin == {"profile": "dev-admin", "configured": "dev-admin", "account_id": first.account_id,
                     "account_name": first.name, "role_name": first.roles[0], "session": "dev",
                     "favourite": False, "pinned": False}
    other = next(r for r in data["roles"] if r["account_name"] == "ledger-prod")
    assert other["configured"] is None and other["profile"] == f"{other['account_id']}/{other['role_name']}"
    assert len(data["roles"]) == 2 * len(NAMES)
    [session] = data["sessions"]
    assert session["name"] == "dev" and session["state"] == "valid"
    assert re.fullmatch(r"(\d+h )?\d+m left, until \d\d:\d\d", session["text"])


# --- sso-tray find ------------------------------------------------------------------------------------------


def test_find_prints_the_running_pages_url_from_a_private_file(running, home):
    _engine, server = running
    channel = finder.channel.channel_file()
    assert stat.S_IMODE(channel.stat().st_mode) == 0o600
    assert stat.S_IMODE(channel.parent.stat().st_mode) == 0o700
    result = run_cli("find", "pay prod", "--print-url")
    assert result.returncode == 0, result.stderr
    url = urlsplit(result.stdout.strip())
    assert f"{url.scheme}://{url.netloc}" == server.origin
    assert parse_qs(url.query) == {"key": [server.secret], "q": ["pay prod"]}
    assert result.stderr == ""


def test_find_opens_the_default_browser(running, home, tmp_path, monkeypatch):
    _engine, server = running
    seen = tmp_path / "opened"
    script = tmp_path / "browser.py"  # a $BROWSER that records what it is given
    script.write_text(f"import sys\nopen({str(seen)!r}, 'w').write(sys.argv[1])\n")
    monkeypatch.setenv("BROWSER", f"{sys.executable} {script} %s")
    result = run_cli("find", "ledger")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    url = urlsplit(seen.read_text())
    assert parse_qs(url.query)["q"] == ["ledger"] and f"{url.scheme}://{url.netloc}" == server.origin


def test_find_with_no_tray_running_says_so_and_exits_2(home, sso_env):
    result = run_cli("find", "x")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("sso-tray: the tray is not running") and result.stderr.count("\n") == 1
    # a file left by a tray that died: its port no longer answers
    from tray.core.fileio import write_json

    server = finder.FinderServer(None).start()
    origin, secret = server.origin, server.secret
    server.stop()
    write_json(finder.channel.channel_file(), {"origin": origin, "key": secret})
    result = run_cli("find", "--print-url")
    assert result.returncode == 2 and "not running" in result.stderr and secret not in result.stdout + result.stderr

"""The finder page (SPEC §8) served by a real engine signed in to the simulator: its security rules, each
tried as an attacker would with raw HTTP requests, and the page itself in headless Chromium (search as
you type, arrows and Enter copying the export lines to the real clipboard, the setup form), plus
`sso-tray find` reaching the running page through its channel file.
"""

from __future__ import annotations

import http.client
import json
import re
import stat
import subprocess
import sys
import time
import urllib.request
import webbrowser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import BROWSERS, ROOT, need_program, run_cli, sim_accounts
from tray.core.engine.engine import Engine
from tray.ui import finder

NAMES = ["payments-prod", "payments-dev", "search-prod", "search-dev", "ledger-prod", "identity-shared"]


# --- a signed-in engine and its finder -------------------------------------------------------------------


def sign_in_to(session: str = "dev") -> None:
    """A real token from the simulator (PKCE, auto-approved) in this test's HOME."""
    from tray.core.identity.config import AwsConfig
    from tray.core.identity.signin import SignInOptions, login

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
    # no clipboard clearing: its helper process would outlive the test by 90 s
    (home / ".config" / "sso-tray").mkdir(parents=True)
    (home / ".config" / "sso-tray" / "settings.json").write_text(json.dumps({"clear_clipboard_after": 0}), encoding="utf-8")
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
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=45)
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


def test_cookies_other_local_apps_set_do_not_hide_ours(running):
    """A browser sends this page the cookies of every app on 127.0.0.1 (cookies ignore the port), as they were
    set: a JSON value or one with a space made http.cookies stop before ours, and the person was locked out."""
    _engine, server = running
    ours = login_cookie(server)
    others = ['prefs={"theme":"dark","cols":[1,2]}', "greeting=hello world", 'quote="unclosed', "flag", "x=a,b"]
    for other in others:
        for header in (f"{other}; {ours}", f"{ours}; {other}", f"{other};{ours};{other}"):
            status, _h, body = request(server, "GET", "/api/state", cookie=header)
            assert status == 200, header
            assert {r["account_name"] for r in json.loads(body)["roles"]} == set(NAMES)
    # still only our value opens it: the same name with another value, or ours under another name, does not
    name, value = ours.split("=", 1)
    for header in (f"{others[0]}; {name}={value}x", f"{others[1]}; other_{name}={value}", f"{name} ={value[:-1]}"):
        status, _h, body = request(server, "GET", "/api/state", cookie=header)
        assert status == 403, header
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
    config = (home / ".aws" / "config").read_text(encoding="utf-8")
    status, _h, _b = request(server, "POST", "/api/setup", cookie=cookie, origin="http://evil.example",
                             body={"start_url": "https://evil.awsapps.com/start", "region": "us-east-1"})
    assert status == 403 and (home / ".aws" / "config").read_text(encoding="utf-8") == config
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
    written = (home / ".aws" / "credentials").read_text(encoding="utf-8")
    secrets_on_disk = re.findall(r"^aws_(?:secret_access_key|session_token) = (.+)$", written, re.M)
    assert len(secrets_on_disk) == 4  # dev-admin written, dev-read kept fresh
    token = json.loads(next((home / ".aws" / "sso" / "cache").glob("*.json")).read_text(encoding="utf-8"))
    secrets_on_disk += [token["accessToken"], token["refreshToken"], token["clientSecret"]]
    for body in bodies:
        for secret in secrets_on_disk:
            assert secret not in body
    state = json.loads(bodies[-2])
    assert next(r for r in state["roles"] if r["profile"] == "dev-read")["pinned"] is True
    out, err = capfd.readouterr()
    assert server.secret not in out + err and server.cookie_value not in out + err


def test_console_opens_in_the_browser_and_its_link_never_reaches_the_page(running, sso_env, tmp_path, monkeypatch):
    engine, server = running
    seen = tmp_path / "opened"
    script = tmp_path / "browser.py"  # a $BROWSER that opens the tray's one-time address and keeps where it leads
    script.write_text(
        "import sys, urllib.error, urllib.request\n"
        "class Stop(urllib.request.HTTPRedirectHandler):\n"
        "    def redirect_request(self, *args): return None\n"
        "try:\n"
        "    urllib.request.build_opener(Stop).open(sys.argv[1], timeout=30)\n"
        "except urllib.error.HTTPError as e:\n"
        f"    open({str(seen)!r}, 'w').write(e.headers['Location'])\n", encoding="utf-8")
    monkeypatch.setenv("BROWSER", f"{sys.executable} {script} %s")
    # webbrowser reads $BROWSER once per process: make it read this one, and the next test's its own
    monkeypatch.setattr(webbrowser, "_tryorder", None)
    monkeypatch.setattr(webbrowser, "_browsers", {})
    monkeypatch.setenv("SSO_TRAY_FEDERATION_URL", sso_env.url + "/federation")
    cookie = login_cookie(server)
    status, _h, body = request(server, "POST", "/api/action", cookie=cookie, origin=server.origin,
                               body={"action": "console", "profile": "dev-admin"})
    assert status == 200, body
    assert json.loads(body)["message"] == "Opened the AWS console as dev-admin."
    link = urlsplit(seen.read_text(encoding="utf-8"))
    token = parse_qs(link.query)["SigninToken"][0]
    assert link.path == "/federation" and parse_qs(link.query)["Action"] == ["login"]
    assert token not in body and token not in request(server, "GET", "/api/state", cookie=cookie)[2]


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


def test_an_action_that_fails_is_said_as_a_failure(running, sso_env):
    """The page tells a failure from a success: the engine flags the outcome it reports."""
    engine, server = running
    cookie = login_cookie(server)
    sso_env.revoke_all_tokens()  # the session no longer works: no credentials can be had
    status, _h, text = request(server, "POST", "/api/action", cookie=cookie, origin=server.origin,
                               body={"action": "copy", "profile": "dev-admin"})
    answer = json.loads(text)
    assert status == 200 and answer["failed"] is True, answer
    assert engine.state.message_failed and engine.state.message == answer["message"]
    status, _h, text = request(server, "GET", "/api/state", cookie=cookie)
    assert json.loads(text)["message_failed"] is True


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


def test_find_prints_a_one_time_url_got_with_the_secret_from_a_private_file(running, home):
    _engine, server = running
    channel = finder.channel.channel_file()
    assert stat.S_IMODE(channel.stat().st_mode) == 0o600
    assert stat.S_IMODE(channel.parent.stat().st_mode) == 0o700
    assert json.loads(channel.read_text(encoding="utf-8")) == {"origin": server.origin, "key": server.secret}
    result = run_cli("find", "pay prod", "--print-url")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and server.secret not in result.stdout
    url = urlsplit(result.stdout.strip())
    assert f"{url.scheme}://{url.netloc}" == server.origin
    query = parse_qs(url.query)
    assert set(query) == {"ticket", "q"} and query["q"] == ["pay prod"]
    # the ticket opens the page once, then it is worth nothing
    status, headers, _ = request(server, "GET", f"{url.path}?{url.query}")
    assert status == 303 and headers["Location"] == "/?q=pay+prod" and "HttpOnly" in headers["Set-Cookie"]
    status, headers, _ = request(server, "GET", f"{url.path}?{url.query}")
    assert status == 403 and "Set-Cookie" not in headers


def test_find_opens_the_default_browser_on_a_one_time_url(running, home, tmp_path, monkeypatch):
    _engine, server = running
    seen = tmp_path / "opened"
    script = tmp_path / "browser.py"  # a $BROWSER that records what it is given
    script.write_text(f"import sys\nopen({str(seen)!r}, 'w').write(sys.argv[1])\n", encoding="utf-8")
    monkeypatch.setenv("BROWSER", f"{sys.executable} {script} %s")
    result = run_cli("find", "ledger")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    url = urlsplit(seen.read_text(encoding="utf-8"))
    assert parse_qs(url.query)["q"] == ["ledger"] and f"{url.scheme}://{url.netloc}" == server.origin
    assert server.secret not in seen.read_text(encoding="utf-8")  # a command line is readable by other users: no secret on it


def test_tickets_are_issued_only_for_the_secret_and_expire(home):
    now = [1000.0]
    server = finder.FinderServer(None, clock=lambda: now[0]).start()
    try:
        for headers, host in [({}, None), ({finder.server.KEY_HEADER: "wrong"}, None),
                              ({finder.server.KEY_HEADER: server.secret}, f"evil.example:{server.port}")]:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.request("POST", "/api/ticket", headers={"Host": host or f"127.0.0.1:{server.port}", **headers})
            response = conn.getresponse()
            assert response.status == 403 and b"ticket" not in response.read()
            conn.close()
        assert request(server, "GET", "/api/ticket")[0] == 403
        late = urlsplit(server.ticket_url())
        now[0] += finder.server.TICKET_LIFETIME + 1
        assert request(server, "GET", f"/?{late.query}")[0] == 403  # too late
        fresh = urlsplit(server.ticket_url(q="x"))
        assert request(server, "GET", f"/?{fresh.query}")[0] == 303
        assert request(server, "GET", "/?ticket=" + "A" * 43)[0] == 403  # a guess
    finally:
        server.stop()


def test_find_with_no_tray_running_says_so_and_exits_2(home, sso_env):
    result = run_cli("find", "x")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("sso-tray: the tray is not running") and result.stderr.count("\n") == 1
    # a file left by a tray that died: its port no longer answers
    from tray.core.files.fileio import write_json

    server = finder.FinderServer(None).start()
    origin, secret = server.origin, server.secret
    server.stop()
    write_json(finder.channel.channel_file(), {"origin": origin, "key": secret})
    result = run_cli("find", "--print-url")
    assert result.returncode == 2 and "not running" in result.stderr and secret not in result.stdout + result.stderr


# --- the page in headless Chromium ---------------------------------------------------------------------


@pytest.fixture
def chromium():
    """Headless Chromium (Debian's) through Playwright, with a fresh profile per test."""
    need_program("chromium")
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(BROWSERS))
    from chromium import CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(chromium, url: str, width: int = 1100, height: int = 700):
    page = chromium.new_page(viewport={"width": width, "height": height})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url)
    page.errors = errors
    return page


def wait_js(page, expression: str, timeout: float = 15.0):
    """Wait until a JavaScript expression is truthy in the page. (Playwright's wait_for_function evaluates
    strings in the page, which the page's own CSP rightly forbids; evaluate() goes through the debugger.)"""
    return wait_until(lambda: page.evaluate(expression), timeout, expression)


def shown_rows(page) -> list[tuple[str, str]]:
    """(account name, role name) of each row on the page."""
    return [tuple(x) for x in page.eval_on_selector_all(
        "#roles li", "rows => rows.map(r => [r.querySelector('.account').textContent, r.querySelector('.role-name').textContent])")]


def clipboard(display: str) -> str:
    return subprocess.run(["xclip", "-display", display, "-selection", "clipboard", "-o"],
                                        capture_output=True, text=True, timeout=10).stdout


@pytest.mark.browser
def test_type_arrows_and_enter_copy_the_chosen_roles_export_lines(xvfb, running, chromium, home):
    need_program("xclip")
    engine, server = running
    page = open_page(chromium, server.ticket_url(), height=400)
    assert page.url == f"{server.origin}/"  # the secret left the address bar
    wait_js(page, "document.querySelectorAll('#roles li').length === 12")
    assert page.evaluate("document.activeElement.id") == "search"
    page.keyboard.type("paym")
    wait_js(page, "document.querySelectorAll('#roles li').length === 4")
    shot(page, "finder.png")
    assert {name for name, _role in shown_rows(page)} == {"payments-prod", "payments-dev"}
    page.keyboard.type("ents-d")
    wait_js(page, "document.querySelectorAll('#roles li').length === 2")
    rows = shown_rows(page)
    assert {name for name, _role in rows} == {"payments-dev"}
    assert page.get_attribute("#roles li:nth-child(1)", "aria-selected") == "true"
    page.keyboard.press("ArrowDown")
    assert page.get_attribute("#roles li:nth-child(2)", "aria-selected") == "true"
    assert page.get_attribute("#roles li:nth-child(1)", "aria-selected") == "false"
    page.keyboard.press("Enter")
    wait_js(page, "document.getElementById('message').textContent.startsWith('Copied bash export lines')", 30)
    account, role = rows[1]
    profile = next(r.profile for r in roles_of(engine) if (r.account_name, r.role_name) == (account, role))
    assert profile == "dev-read"  # the configured profile that points at this role, shown beside it
    assert page.inner_text("#roles li:nth-child(2) .profile") == "dev-read"
    text = wait_until(lambda: (lambda t: t if "AWS_ACCESS_KEY_ID" in t else None)(clipboard(xvfb)), 15, "the clipboard")
    # exactly what `sso-tray export` prints for that profile (the same cached credentials)
    exported = run_cli("export", profile)
    assert exported.returncode == 0, exported.stderr
    assert text == exported.stdout
    assert page.inner_text("#message").startswith(f"Copied bash export lines for {profile}")
    assert "AWS_SECRET_ACCESS_KEY" not in page.content()
    assert page.errors == []


@pytest.mark.browser
def test_per_role_buttons_act_through_the_tray(running, chromium, home):
    engine, server = running
    page = open_page(chromium, server.ticket_url(q="ledger-prod"))
    assert page.input_value("#search") == "ledger-prod"  # TEXT from `sso-tray find TEXT`
    wait_js(page, "document.querySelectorAll('#roles li').length === 2")
    first = page.locator("#roles li").nth(0)
    first.locator('[data-action="favourite"]').click()
    wait_js(page, "document.querySelector('#roles li [data-action=favourite]').textContent === '★'")
    first.locator('[data-action="pin"]').click()
    wait_js(page, "document.querySelector('#roles li [data-action=pin]').getAttribute('aria-pressed') === 'true'")
    profile = f"{next(r.account_id for r in roles_of(engine) if r.account_name == 'ledger-prod')}/{shown_rows(page)[0][1]}"
    assert profile in engine.state.favourite_names and profile in engine.state.pinned
    assert f"[{profile}]" in (home / ".aws" / "credentials").read_text(encoding="utf-8")  # kept fresh: written at once
    # the buttons follow the mouse: on the second row they act for the second role
    second = page.locator("#roles li").nth(1)
    second.hover()
    second.locator('[data-action="write"]').click()
    other = f"{profile.split('/')[0]}/{shown_rows(page)[1][1]}"
    wait_js(page, f"document.getElementById('message').textContent.startsWith('Wrote [{other}]')", 30)
    assert f"[{other}]" in (home / ".aws" / "credentials").read_text(encoding="utf-8")
    # the star is a control of its own, apart from the "kept fresh" mark
    assert page.inner_text("#roles li:nth-child(1) .marks") == "kept fresh"
    assert page.get_attribute("#roles li:nth-child(1) .star", "aria-pressed") == "true"
    first.hover()
    first.locator('[data-action="copy-as"]').click()
    assert page.eval_on_selector_all("#formats button", "b => b.map(x => x.textContent)") == [
        "bash", "zsh", "sh", "fish", "powershell", "cmd", "dotenv", "json"]
    assert page.evaluate("document.activeElement.dataset.format") == "bash"
    assert page.errors == []


@pytest.mark.browser
def test_sign_in_button_and_session_status(running, chromium, sso_env):
    engine, server = running
    page = open_page(chromium, server.ticket_url())
    page.wait_for_selector("#sessions li.valid")
    assert page.inner_text("#sessions li .name") == "dev"
    assert re.fullmatch(r"(\d+h )?\d+m left, until \d\d:\d\d", page.inner_text("#sessions li .status"))
    assert page.inner_text("#sessions li button") == "Sign in again"
    before = len(sso_env.authorize_requests())
    page.click("#sessions button")
    wait_until(lambda: len(sso_env.authorize_requests()) > before, 30, "a sign-in at the simulator")
    engine.wait_idle()
    page.wait_for_selector("#sessions li.valid")
    assert page.errors == []


# --- the setup form -------------------------------------------------------------------------------------


@pytest.fixture
def unconfigured(home, simulator, monkeypatch):
    """(engine, finder) with no AWS config at all; endpoints at the simulator, a fetch-only $BROWSER."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", simulator.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", simulator.url)
    monkeypatch.setenv("BROWSER", f"{sys.executable} {BROWSERS / 'fetch.py'} %s")
    engine = Engine()
    engine.start()
    server = finder.start(engine)
    yield engine, server
    finder.stop(server)
    engine.stop()


def shot(page, name: str) -> Path:
    """A screenshot in artifacts/screenshots/ (docs/screenshots/ holds the README's copies)."""
    path = ROOT / "artifacts" / "screenshots" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    return path


def test_setup_takes_the_region_from_the_start_url_or_asks_for_it(unconfigured, home):
    """As `configure`: an empty region is refused where the start URL does not name it, and read where it does."""
    _engine, server = unconfigured
    cookie = login_cookie(server)
    status, _h, body = request(server, "POST", "/api/setup", cookie=cookie, origin=server.origin,
                               body={"start_url": "https://example.awsapps.com/start", "region": ""})
    assert status == 400 and "does not name its region" in body and not (home / ".aws" / "config").exists()
    status, _h, body = request(server, "POST", "/api/setup", cookie=cookie, origin=server.origin,
                               body={"start_url": "https://ssoins-1.portal.eu-west-1.app.aws/start", "region": "", "name": "app"})
    assert status == 200, body
    assert "sso_region = eu-west-1" in (home / ".aws" / "config").read_text(encoding="utf-8")


@pytest.mark.browser
def test_setup_form_rejects_bad_input_then_writes_the_session_and_signs_in(unconfigured, chromium, home):
    engine, server = unconfigured
    config = home / ".aws" / "config"
    page = open_page(chromium, server.ticket_url(), height=420)
    page.wait_for_selector("#setup:not([hidden])")  # no session configured: the form is what the page shows
    assert page.evaluate("document.activeElement.id") == "start-url"
    for start_url, region, expected in [
        ("http://example.awsapps.com/start", "us-east-1", "must start with https://"),
        ("", "us-east-1", "the start URL is empty"),
        ("https://example.awsapps.com/start", "mars-north-1", "'mars-north-1' is not an AWS region"),
        ("https://example.awsapps.com/start", "us-east-1", None),
    ]:
        page.fill("#start-url", start_url)
        page.fill("#region", region)
        if expected is None:
            shot(page, "setup.png")
        page.click("#setup-submit")
        if expected is not None:
            wait_js(page, "document.getElementById('setup-error').textContent !== ''")
            assert expected in page.inner_text("#setup-error")
            assert not config.exists()  # bad input: nothing written
            page.evaluate("document.getElementById('setup-error').textContent = ''")
    wait_js(page, "document.getElementById('setup').hidden")
    assert page.inner_text("#message").startswith("Saved [sso-session example]")
    text = config.read_text(encoding="utf-8")
    assert "[sso-session example]" in text and "sso_start_url = https://example.awsapps.com/start" in text
    assert "sso_region = us-east-1" in text
    # the engine found the new session and signed in to it (the simulator approves at once)
    wait_until(lambda: [(s.name, s.state) for s in engine.state.sessions] == [("example", "valid")], 30, "the session signed in")
    page.wait_for_selector("#sessions li.valid", timeout=15000)
    assert page.errors == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"] * 3


# --- thousands of roles ---------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.slow
def test_each_keystroke_is_answered_well_under_50_ms_with_5000_roles(sso_env, chromium, home):
    sso_env.options.accounts = 1667
    sso_env.options.roles_per_account = 3
    sign_in_to()
    engine = Engine()
    engine.start()
    try:
        wait_until(lambda: len(roles_of(engine)) >= 5000 and not any(s.refreshing for s in engine.state.sessions), 120,
                   "5000 discovered roles")
        server = finder.start(engine)
        try:
            page = open_page(chromium, server.ticket_url(), height=900)
            wait_js(page, "document.getElementById('count').textContent.startsWith('5001 of 5001 roles')")
            # what the page does per keystroke, measured synchronously: the input handler (filter over
            # 5001 roles, redraw of the list) plus the style and layout it causes
            work = page.evaluate("""() => {
                const box = document.getElementById('search');
                const out = [];
                for (const text of ['p', 'pr', 'pro', 'prod', 'prod-', 'prod-1', 'prod-12', 'prod-1', 'prod', '',
                                    'r', 're', 'read', 'readonly', 'readonly 2', '1111', '111100000', '']) {
                    const start = performance.now();
                    box.value = text;
                    box.dispatchEvent(new Event('input'));
                    document.documentElement.getBoundingClientRect();
                    out.push(performance.now() - start);
                }
                return out;
            }""")
            # and real key presses as Chromium times an interaction (Event Timing, behind INP): from the key
            # to the next painted frame, so at least one frame (16 ms) each, plus whatever the machine adds
            page.evaluate("""() => {
                window.keyTimings = [];
                new PerformanceObserver((list) => {
                    for (const e of list.getEntries()) if (e.name === 'keydown') window.keyTimings.push(e.duration);
                }).observe({type: 'event', durationThreshold: 16});
            }""")
            page.focus("#search")
            page.keyboard.type("prod-1")
            page.keyboard.type("\b" * 6)
            wait_js(page, "document.getElementById('search').value === 'prod-1\\b\\b\\b\\b\\b\\b'")
            page.fill("#search", "prod")
            wait_js(page, "document.getElementById('count').textContent.startsWith('501 of 5001')")
            frames = sorted(page.evaluate("window.keyTimings"))
            shot(page, "finder-5000.png")
            work = sorted(work)
            print(f"\nfinder over 5001 roles: per keystroke (handler + style + layout) median {work[len(work) // 2]:.1f} ms, "
                  f"max {work[-1]:.1f} ms; key to painted frame (Event Timing) median "
                  f"{frames[len(frames) // 2] if frames else '<16'} ms, max {frames[-1] if frames else '<16'} ms")
            # well under 50 ms; a bound that a busy machine (two cores shared by many jobs) cannot trip by a
            # single preempted keystroke: the median, and all but the slowest tenth
            assert work[len(work) // 2] < 25 and work[len(work) * 9 // 10] < 50, work
            # the frame also waits for the compositor, which software rendering on shared cores slows: a generous bound
            assert not frames or frames[len(frames) // 2] < 100, frames
        finally:
            finder.stop(server)
    finally:
        engine.stop()


"""Sign-in that nothing can wedge, and that shares the AWS CLI v2's files the way the CLI does:
an idle connection to the loopback server, a cancel or timeout during it, the client registration the
CLI leaves behind after `--use-device-code`, its registration key, and a token file caught half-written."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlparse

import pytest

from conftest import START_URL, run_cli, write_config


def callback_port(authorize_url: str) -> int:
    return urlparse(parse_qs(urlparse(authorize_url).query)["redirect_uri"][0]).port


def hold_idle_connection(port: int, held: list) -> None:
    """Connect to the loopback server and send nothing, as a browser's speculative pre-connect does; then
    prove the server has taken it (connections are accepted in order) by a request made after it."""
    held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/favicon.ico", timeout=5)
    assert answer.value.code == 404


def lock_is_free(path) -> bool:
    """Whether another process can take the token file's lock at once."""
    from tray.core.files.fileio import lock_path_for

    code = "import sys; from filelock import FileLock; FileLock(sys.argv[1]).acquire(timeout=0)"
    return subprocess.run([sys.executable, "-c", code, str(lock_path_for(path))], capture_output=True, timeout=30).returncode == 0


def in_thread(target) -> tuple[threading.Event, dict]:
    """Run `target` on a daemon thread: (finished, {"result" or "error", "ended": monotonic time})."""
    finished, outcome = threading.Event(), {}

    def run():
        try:
            outcome["result"] = target()
        except Exception as e:
            outcome["error"] = e
        finally:
            outcome["ended"] = time.monotonic()
            finished.set()

    threading.Thread(target=run, daemon=True, name="sign-in-under-test").start()
    return finished, outcome


# --- the loopback listener --------------------------------------------------------------------------


def test_login_completes_while_an_idle_connection_is_held_open(sso_env, home):
    from tray.core.identity.config import AwsConfig
    from tray.core.identity.signin import SignInOptions, login

    held = []

    def browser(url):
        hold_idle_connection(callback_port(url), held)
        urllib.request.urlopen(url, timeout=30).read()  # the real redirect, after the idle connection

    session = AwsConfig.load().session("dev")
    try:
        finished, outcome = in_thread(lambda: login(session, SignInOptions(opener=browser, timeout=30)))
        assert finished.wait(20), "the sign-in is wedged behind the idle connection"
    finally:
        for s in held:
            s.close()
    assert "error" not in outcome, outcome.get("error")
    assert outcome["result"].access_token and held
    assert json.loads(session.token_cache_path.read_text(encoding="utf-8"))["accessToken"] == outcome["result"].access_token
    assert lock_is_free(session.token_cache_path)


def test_cancel_with_an_idle_connection_open_ends_the_sign_in_within_a_second(sso_env, home):
    from tray.core.identity.config import AwsConfig
    from tray.core.errors import NotSignedIn
    from tray.core.identity.signin import SignInOptions, login

    held, connected = [], threading.Event()

    def browser(url):  # the person never answers; only a pre-connect reaches the loopback server
        hold_idle_connection(callback_port(url), held)
        connected.set()

    cancel = threading.Event()
    session = AwsConfig.load().session("dev")
    try:
        finished, outcome = in_thread(lambda: login(session, SignInOptions(opener=browser, cancel=cancel, timeout=60)))
        assert connected.wait(20), "the loopback server never answered beside the idle connection"
        cancelled_at = time.monotonic()
        cancel.set()
        assert finished.wait(10), "the cancelled sign-in is still waiting"
        took = outcome["ended"] - cancelled_at
    finally:
        for s in held:
            s.close()
    assert took < 1.0, f"the cancel took {took:.2f} s"
    assert isinstance(outcome.get("error"), NotSignedIn) and "cancelled" in str(outcome["error"])
    assert not session.token_cache_path.exists()
    assert lock_is_free(session.token_cache_path)


def test_login_timeout_with_an_idle_connection_open_ends_on_time(sso_env, home):
    proc = subprocess.Popen([sys.executable, "-m", "tray", "login", "--no-browser", "--sso-session", "dev", "--timeout", "2"],
                            env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    held = []
    try:
        url = next(line.strip() for line in proc.stderr if line.startswith("http"))
        seen_at = time.monotonic()
        hold_idle_connection(callback_port(url), held)
        out, err = proc.communicate(timeout=20)
        took = time.monotonic() - seen_at
    finally:
        proc.kill()
        for s in held:
            s.close()
    assert proc.returncode == 3 and "timed out" in err, err
    assert "Traceback" not in err
    assert took < 2 + 1.0, f"the sign-in ended {took - 2:.2f} s after its 2 s timeout"


def test_cancel_while_another_process_signs_in_ends_the_wait_within_a_second(sso_env, home):
    from tray.core.identity.config import AwsConfig
    from tray.core.errors import NotSignedIn
    from tray.core.files.fileio import lock_path_for
    from tray.core.identity.signin import SignInOptions, login

    session = AwsConfig.load().session("dev")
    lock = lock_path_for(session.token_cache_path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(  # another sso-tray in the middle of its sign-in: holds the lock until told
        [sys.executable, "-c", "import sys; from filelock import FileLock; l = FileLock(sys.argv[1]); l.acquire(); print('held', flush=True); sys.stdin.read()", str(lock)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        waiting, cancel = threading.Event(), threading.Event()
        prompt = lambda message: waiting.set() if message.startswith("Another sso-tray is signing in") else None  # noqa: E731
        finished, outcome = in_thread(lambda: login(session, SignInOptions(opener=lambda url: None, cancel=cancel, prompt=prompt, timeout=60)))
        assert waiting.wait(20)
        cancelled_at = time.monotonic()
        cancel.set()
        assert finished.wait(10), "the cancelled sign-in is still waiting for the other one"
        took = outcome["ended"] - cancelled_at
    finally:
        holder.stdin.close()
        holder.wait(10)
    assert took < 1.0, f"the cancel took {took:.2f} s"
    assert isinstance(outcome.get("error"), NotSignedIn) and "cancelled" in str(outcome["error"])
    assert sso_env.calls() == {}


# --- the client registration, shared with the AWS CLI v2 -------------------------------------------


def cli_registration_key(start_url: str, region: str, registration_scopes, session_name) -> str:
    """The AWS CLI v2's registration file name (awscli/botocore/utils.py, branch v2,
    BaseSSOTokenFetcher._registration_cache_key). `registration_scopes` is what its sso commands pass:
    `parse_sso_registration_scopes(sso_registration_scopes)` when the session has that key, else None;
    `session_name` is None for a legacy profile."""
    args = {
        "tool": "botocore",
        "startUrl": start_url,
        "region": region,
        "scopes": registration_scopes,
        "session_name": session_name,
    }
    return hashlib.sha1(json.dumps(args, sort_keys=True).encode("utf-8")).hexdigest()


def registration_file(home, key: str):
    return home / ".aws" / "sso" / "cache" / f"{key}.json"


def write_like_aws_cli_device_code(sim, path, scopes) -> str:
    """What `aws sso login --use-device-code` leaves for an [sso-session]: SSOTokenFetcher._register_client
    registers with clientName and clientType only (plus scopes when configured), and JSONFileCache with the
    sso commands' `_sso_json_dumps` writes clientId, clientSecret, expiresAt (…Z) and scopes, no grantTypes."""
    import botocore.session
    from botocore import UNSIGNED
    from botocore.config import Config

    oidc = botocore.session.get_session().create_client(
        "sso-oidc", region_name="us-east-1", endpoint_url=sim.url, config=Config(signature_version=UNSIGNED))
    kwargs = {"clientName": "botocore-client-dev", "clientType": "public"}
    if scopes:
        kwargs["scopes"] = scopes
    response = oidc.register_client(**kwargs)
    registration = {
        "clientId": response["clientId"],
        "clientSecret": response["clientSecret"],
        "expiresAt": datetime.fromtimestamp(response["clientSecretExpiresAt"], timezone.utc),
    }
    if scopes:
        registration["scopes"] = scopes
    path.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(json.dumps(registration, default=lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")))
    return response["clientId"]


def test_the_simulator_refuses_authorize_for_a_device_code_client_as_aws_does(sso_env, home, tmp_path):
    """What makes the test below real: /authorize with a client registered the device way shows an error
    page and never redirects to the loopback address, so a sign-in that reuses it can only time out."""
    client_id = write_like_aws_cli_device_code(sso_env, tmp_path / "reg.json", ["sso:account:access"])
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": "http://127.0.0.1:9/oauth/callback",
             "state": "s", "code_challenge_method": "S256", "scopes": "sso:account:access", "code_challenge": "c" * 43}
    with pytest.raises(urllib.error.HTTPError) as page:
        urllib.request.urlopen(f"{sso_env.url}/authorize?{urllib.parse.urlencode(query)}", timeout=10)
    assert page.value.code == 400
    assert "not registered for the authorization code grant" in page.value.read().decode()


@pytest.mark.parametrize("scopes", [["sso:account:access"], None])
def test_a_device_code_registration_of_the_aws_cli_is_replaced_for_a_browser_sign_in(sso_env, home, scopes):
    if scopes is None:
        write_config(home, f"[sso-session dev]\nsso_start_url = {START_URL}\nsso_region = us-east-1\n")
    path = registration_file(home, cli_registration_key(START_URL, "us-east-1", scopes, "dev"))
    device_client = write_like_aws_cli_device_code(sso_env, path, scopes)
    sso_env.reset_counts()
    result = run_cli("login", "--sso-session", "dev", "--timeout", "10")
    assert result.returncode == 0, result.stderr
    assert sso_env.calls().get("RegisterClient") == 1
    assert sso_env.authorize_requests()[0]["client_id"] != device_client
    body = json.loads(path.read_text(encoding="utf-8"))
    assert body["clientId"] != device_client and "authorization_code" in body["grantTypes"]
    token = json.loads((home / ".aws/sso/cache" / (hashlib.sha1(b"dev").hexdigest() + ".json")).read_text(encoding="utf-8"))
    assert token["clientId"] == body["clientId"] and token["refreshToken"]
    # the new registration is reused by the next browser sign-in
    sso_env.reset_counts()
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    assert "RegisterClient" not in sso_env.calls()


def test_both_flows_share_the_registration_file_and_replace_what_cannot_do_them(sso_env, home):
    path = registration_file(home, cli_registration_key(START_URL, "us-east-1", ["sso:account:access"], "dev"))
    assert run_cli("login", "--sso-session", "dev", "--device-code").returncode == 0
    device = json.loads(path.read_text(encoding="utf-8"))
    assert "authorization_code" not in device.get("grantTypes", [])
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    browser = json.loads(path.read_text(encoding="utf-8"))
    assert "authorization_code" in browser["grantTypes"] and browser["clientId"] != device["clientId"]
    sso_env.reset_counts()
    assert run_cli("login", "--sso-session", "dev", "--device-code").returncode == 0
    assert sso_env.calls().get("RegisterClient") == 1
    assert "authorization_code" not in json.loads(path.read_text(encoding="utf-8")).get("grantTypes", [])
    assert sorted(p.name for p in path.parent.glob("*.json")) == sorted([path.name, hashlib.sha1(b"dev").hexdigest() + ".json"])


@pytest.mark.parametrize("line, scopes", [
    ("", None),  # sso_registration_scopes absent: the CLI keys it with null, not the default scope
    ("sso_registration_scopes = sso:account:access\n", ["sso:account:access"]),
    ("sso_registration_scopes = sso:account:access, codewhisperer:completions ,\n", ["sso:account:access", "codewhisperer:completions"]),
])
def test_registration_key_is_the_aws_cli_v2_one(sso_env, home, line, scopes):
    write_config(home, f"[sso-session dev]\nsso_start_url = {START_URL}\nsso_region = us-east-1\n{line}")
    from tray.core.identity.config import AwsConfig
    from tray.core.identity.tokens import registration_cache_path

    expected = registration_file(home, cli_registration_key(START_URL, "us-east-1", scopes, "dev"))
    assert registration_cache_path(AwsConfig.load().session("dev")) == expected
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    assert json.loads(expected.read_text(encoding="utf-8"))["scopes"] == (scopes or ["sso:account:access"])


def test_legacy_registration_key_is_the_aws_cli_v2_one(sso_env, home):
    legacy_url = "https://legacy.awsapps.com/start"
    write_config(home, f"[profile legacy]\nsso_start_url = {legacy_url}\nsso_region = us-east-1\n"
                       "sso_account_id = 111100000000\nsso_role_name = AdministratorAccess\n")
    assert run_cli("login", "--profile", "legacy").returncode == 0
    body = json.loads(registration_file(home, cli_registration_key(legacy_url, "us-east-1", None, None)).read_text(encoding="utf-8"))
    assert body["clientId"] and "grantTypes" not in body


# --- a token file caught half-written ----------------------------------------------------------------


def test_a_half_written_token_file_is_read_again(sso_env, home, monkeypatch):
    """botocore rewrites the token file in place (truncate, write): a reader can catch half of it."""
    from tray.core.identity import tokens
    from tray.core.identity.config import AwsConfig

    session = AwsConfig.load().session("dev")
    expires = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    whole = json.dumps({"startUrl": START_URL, "region": "us-east-1", "accessToken": "aoa-whole", "expiresAt": expires})
    session.token_cache_path.parent.mkdir(parents=True, exist_ok=True)
    session.token_cache_path.write_text(whole[: len(whole) // 2], encoding="utf-8")
    failed_once, completed = threading.Event(), threading.Event()
    pause = tokens._pause

    def pause_after_a_failed_read(seconds):
        failed_once.set()
        assert completed.wait(10)
        pause(seconds)

    def writer():  # the rest of botocore's write lands after the reader has seen the first half
        assert failed_once.wait(10)
        with open(session.token_cache_path, "a", encoding="utf-8") as f:
            f.write(whole[len(whole) // 2:])
        completed.set()

    monkeypatch.setattr(tokens, "_pause", pause_after_a_failed_read, raising=False)
    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    token = tokens.read_token(session)
    thread.join(10)
    assert failed_once.is_set() and token.access_token == "aoa-whole"


def test_a_token_file_that_never_parses_is_corrupt(sso_env, home):
    from tray.core.identity import tokens
    from tray.core.identity.config import AwsConfig

    session = AwsConfig.load().session("dev")
    session.token_cache_path.parent.mkdir(parents=True, exist_ok=True)
    session.token_cache_path.write_text('{"startUrl": "https://exa', encoding="utf-8")
    with pytest.raises(tokens.CorruptTokenCache):
        tokens.read_token(session)
    result = run_cli("status")
    assert result.returncode == 3 and "corrupt" in result.stdout + result.stderr

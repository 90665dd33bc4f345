"""Sign-in end to end: real `sso-tray` processes, real boto3 over HTTP to the simulator, a real browser."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from conftest import BROWSERS, START_URL, botocore_credentials, need_program, run_cli, write_config


def token_file(home):
    return home / ".aws" / "sso" / "cache" / (__import__("hashlib").sha1(b"dev").hexdigest() + ".json")


def chromium_browser(monkeypatch, tmp_path, click="allow"):
    need_program("chromium")
    monkeypatch.setenv("BROWSER", f"{sys.executable} {BROWSERS / 'chromium.py'} %s")
    monkeypatch.setenv("SSO_TRAY_TEST_CLICK", click)
    monkeypatch.setenv("SSO_TRAY_TEST_BROWSER_LOG", str(tmp_path / "tabs.log"))
    monkeypatch.setenv("SSO_TRAY_TEST_PAGE_TEXT", str(tmp_path / "page.txt"))


def assert_one_error_line(result, code, *needles):
    """The error is the one last line on stderr (a sign-in may print its URL before it), no traceback."""
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("sso-tray: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    assert "Traceback" not in result.stderr
    if result.args[3] != "login":
        assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr


def secrets_of(home) -> list[str]:
    """Every secret sso-tray holds on disk: none may appear in any output."""
    found = []
    cache = home / ".aws" / "sso" / "cache"
    for f in cache.glob("*.json") if cache.exists() else []:
        body = json.loads(f.read_text(encoding="utf-8"))
        found += [body[k] for k in ("accessToken", "refreshToken", "clientSecret") if body.get(k)]
    return found


@pytest.mark.browser
def test_pkce_sign_in_clicked_in_chromium(sso_env, home, monkeypatch, tmp_path):
    sso_env.options.auto_approve = False
    chromium_browser(monkeypatch, tmp_path, "allow")
    result = run_cli("login", "--sso-session", "dev")
    assert result.returncode == 0, result.stderr
    assert "Signed in to dev" in result.stdout
    assert "You may close this tab" in (tmp_path / "page.txt").read_text(encoding="utf-8")
    path = token_file(home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    body = json.loads(path.read_text(encoding="utf-8"))
    assert set(body) == {"startUrl", "region", "accessToken", "expiresAt", "clientId", "clientSecret", "registrationExpiresAt", "refreshToken"}
    assert body["startUrl"] == START_URL and body["region"] == "us-east-1"
    datetime.strptime(body["expiresAt"], "%Y-%m-%dT%H:%M:%SZ")
    calls = sso_env.calls()
    assert calls.get("RegisterClient") == 1 and calls.get("CreateToken") == 1
    # the AWS CLI v2's registration file, reused by the next sign-in
    key = {"tool": "botocore", "startUrl": START_URL, "region": "us-east-1", "scopes": ["sso:account:access"], "session_name": "dev"}
    reg = home / ".aws/sso/cache" / (__import__("hashlib").sha1(json.dumps(key, sort_keys=True).encode()).hexdigest() + ".json")
    assert {"clientId", "clientSecret", "expiresAt"} <= set(json.loads(reg.read_text(encoding="utf-8")))
    assert stat.S_IMODE(reg.stat().st_mode) == 0o600
    again = run_cli("login", "--sso-session", "dev")
    assert again.returncode == 0 and sso_env.calls().get("RegisterClient") == 1
    for secret in secrets_of(home):
        for text in (result.stdout, result.stderr, again.stdout, again.stderr):
            assert secret not in text


@pytest.mark.browser
def test_pkce_denied_in_chromium(sso_env, home, monkeypatch, tmp_path):
    sso_env.options.auto_approve = False
    chromium_browser(monkeypatch, tmp_path, "deny")
    result = run_cli("login", "--sso-session", "dev")
    assert_one_error_line(result, 3, "denied")
    assert not token_file(home).exists()
    assert "You may close this tab" in (tmp_path / "page.txt").read_text(encoding="utf-8")


@pytest.mark.browser
def test_device_flow_approved_on_verification_page(sso_env, home, monkeypatch, tmp_path):
    sso_env.options.auto_approve = False
    chromium_browser(monkeypatch, tmp_path, "allow")
    result = run_cli("login", "--sso-session", "dev", "--device-code")
    assert result.returncode == 0, result.stderr
    body = json.loads(token_file(home).read_text(encoding="utf-8"))
    assert body["accessToken"] and body["refreshToken"]
    assert "/device" in (tmp_path / "tabs.log").read_text(encoding="utf-8")


def test_legacy_profile_uses_device_flow(sso_env, home):
    config = home / ".aws" / "config"
    config.write_text(config.read_text(encoding="utf-8") + """
[profile legacy]
sso_start_url = https://legacy.awsapps.com/start
sso_region = us-east-1
sso_account_id = 111100000000
sso_role_name = AdministratorAccess
""", encoding="utf-8")
    result = run_cli("login", "--profile", "legacy")
    assert result.returncode == 0, result.stderr
    assert sso_env.calls().get("StartDeviceAuthorization") == 1
    path = home / ".aws/sso/cache" / (__import__("hashlib").sha1(b"https://legacy.awsapps.com/start").hexdigest() + ".json")
    assert "accessToken" in json.loads(path.read_text(encoding="utf-8"))
    # botocore's own legacy SSO provider uses it
    assert botocore_credentials("legacy")["access_key"].startswith("ASIA")


def test_no_browser_prints_url(sso_env, home):
    env = dict(os.environ)
    proc = subprocess.Popen([sys.executable, "-m", "tray", "login", "--no-browser", "--sso-session", "dev"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = None
    for line in proc.stderr:
        if line.startswith("http"):
            url = line.strip()
            break
    assert url and "/authorize?" in url and "code_challenge_method=S256" in url and "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in url
    import urllib.request

    urllib.request.urlopen(url, timeout=10).read()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert sso_env.authorize_requests()[0]["scopes"] == "sso:account:access"


def test_botocore_uses_the_token_sso_tray_wrote(sso_env, home):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    creds = botocore_credentials("dev-admin")
    assert creds["access_key"].startswith("ASIA") and creds["token"]
    assert sso_env.calls().get("GetRoleCredentials") == 1


def test_status_reads_a_token_written_like_aws_cli_v2(sso_env, home):
    """The shape `aws sso login` leaves behind (botocore's SSOTokenFetcher): sso-tray must read it."""
    expires = (datetime.now(timezone.utc) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = token_file(home)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({
        "startUrl": START_URL, "region": "us-east-1", "accessToken": "aoa-from-cli",
        "expiresAt": expires, "clientId": "cid", "clientSecret": "csecret",
        "registrationExpiresAt": "2099-01-01T00:00:00Z", "refreshToken": "rtok",
    }), encoding="utf-8")
    result = run_cli("status", "--json")
    assert result.returncode == 0, result.stderr
    session = json.loads(result.stdout)["sessions"][0]
    assert session["name"] == "dev" and session["status"] == "valid" and session["expires_at"] == expires
    assert 7000 < session["seconds_left"] <= 7200
    text = run_cli("status")
    assert text.returncode == 0 and text.stdout.startswith("dev — 1h 59m left, until "), text.stdout


def test_silent_renewal_with_refresh_token(sso_env, home):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    path = token_file(home)
    body = json.loads(path.read_text(encoding="utf-8"))
    old_token = body["accessToken"]
    body["expiresAt"] = (datetime.now(timezone.utc) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    path.write_text(json.dumps(body), encoding="utf-8")
    result = run_cli("status", "--json")
    assert result.returncode == 0, result.stderr
    session = json.loads(result.stdout)["sessions"][0]
    assert session["seconds_left"] > 7 * 3600  # renewed to a full token lifetime
    renewed = json.loads(path.read_text(encoding="utf-8"))
    assert renewed["accessToken"] != old_token and renewed["refreshToken"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert old_token not in result.stdout + result.stderr and renewed["accessToken"] not in result.stdout + result.stderr


def test_no_refresh_token_expires_in_five_minutes(sso_env, home):
    sso_env.options.refresh_tokens = False
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    path = token_file(home)
    body = json.loads(path.read_text(encoding="utf-8"))
    assert "refreshToken" not in body
    body["expiresAt"] = (datetime.now(timezone.utc) + timedelta(minutes=5, seconds=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    path.write_text(json.dumps(body), encoding="utf-8")
    result = run_cli("status")
    assert result.returncode == 0
    assert result.stdout.startswith("dev — 5m left")
    assert sso_env.calls().get("CreateToken") == 1  # no renewal was attempted


def test_two_logins_at_once_open_one_tab(sso_env, home, monkeypatch, tmp_path):
    log = tmp_path / "tabs.log"
    monkeypatch.setenv("SSO_TRAY_TEST_BROWSER_LOG", str(log))
    monkeypatch.setenv("SSO_TRAY_TEST_BROWSER_DELAY", "2")
    env = dict(os.environ)
    procs = [subprocess.Popen([sys.executable, "-m", "tray", "login", "--sso-session", "dev"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert log.read_text(encoding="utf-8").count("\n") == 1
    assert len(sso_env.authorize_requests()) == 1
    assert any("waiting" in err for _, err in outs)


def test_logout_calls_logout_and_removes_token(sso_env, home):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    result = run_cli("logout", "--sso-session", "dev")
    assert result.returncode == 0 and "Signed out of dev" in result.stdout
    assert sso_env.calls().get("Logout") == 1
    assert not token_file(home).exists()
    status = run_cli("status")
    assert status.returncode == 3 and "dev — signed out" in status.stdout
    assert "sso-tray login --sso-session dev" in status.stderr


# --- bad inputs: one line on stderr, the exit code of SPEC §3, nothing written ----------------------


def cache_files(home):
    cache = home / ".aws" / "sso" / "cache"
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def test_no_config_file(home):
    assert_one_error_line(run_cli("status"), 2, "no AWS config file")
    assert_one_error_line(run_cli("login"), 2, "no AWS config file")


def test_malformed_config(home):
    write_config(home, "[sso-session dev\nsso_start_url = x\n")
    assert_one_error_line(run_cli("login"), 2, "not valid INI")
    assert cache_files(home) == []


def test_unknown_session(sso_env, home):
    assert_one_error_line(run_cli("login", "--sso-session", "nope"), 2, "no sso-session named 'nope'")
    assert cache_files(home) == []


def test_corrupt_cache_counts_as_signed_out(sso_env, home):
    path = token_file(home)
    path.parent.mkdir(parents=True)
    path.write_text('{"startUrl": "x", "accessTok', encoding="utf-8")
    result = run_cli("status")
    assert result.returncode == 3
    assert "dev — signed out" in result.stdout and "corrupt" in result.stdout
    assert path.read_text(encoding="utf-8") == '{"startUrl": "x", "accessTok'  # left for the person to see; never half-rewritten
    assert run_cli("login", "--sso-session", "dev").returncode == 0  # and signing in again repairs it


def test_simulator_not_running(sso_env, home, monkeypatch):
    sso_env.stop()
    result = run_cli("login", "--sso-session", "dev")
    assert_one_error_line(result, 4, "cannot reach")
    assert cache_files(home) == []


def test_simulator_throttling_every_call(sso_env, home):
    sso_env.options.throttle = 1.0
    result = run_cli("login", "--sso-session", "dev", timeout=120)
    assert_one_error_line(result, 4, "throttling")
    assert cache_files(home) == []


def test_expired_device_code(sso_env, home):
    sso_env.options.auto_approve = False
    sso_env.options.device_code_lifetime = 2
    result = run_cli("login", "--sso-session", "dev", "--device-code", "--no-browser")
    assert result.returncode == 3
    assert "expired before it was approved" in result.stderr.splitlines()[-1]
    assert not token_file(home).exists()


def test_sign_in_times_out(sso_env, home):
    sso_env.options.auto_approve = False
    result = run_cli("login", "--sso-session", "dev", "--no-browser", "--timeout", "1")
    assert result.returncode == 3 and "timed out" in result.stderr.splitlines()[-1]


def test_simulator_log_has_no_secrets(sso_env, home, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="tray.simulator")
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    assert run_cli("status").returncode == 0
    botocore_credentials("dev-admin")
    assert caplog.records
    for secret in secrets_of(home):
        assert secret not in caplog.text

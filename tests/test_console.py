"""`console`: role credentials → sign-in federation → the console, against the simulator's federation endpoint (SPEC §9)."""

from __future__ import annotations

import http.cookiejar
import json
import logging
import sys
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import BROWSERS, need, need_program, run_cli, sim_account, sim_role
from desktop import wait_for
from tray.core.outlets import console
from tray.core.identity.config import AwsConfig
from tray.core.credentials import RoleCredentials
from tray.core.errors import AwsError
from tray.core.identity.profiles import RoleProfile


@pytest.fixture
def signed_in(sso_env, monkeypatch):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    monkeypatch.setenv("SSO_TRAY_FEDERATION_URL", sso_env.url + "/federation")
    return sso_env


def cached_credentials(home) -> dict:
    [path] = (home / ".aws" / "cli" / "cache").glob("*.json")
    return json.loads(path.read_text(encoding="utf-8"))["Credentials"]


def follow(url: str) -> tuple[int, str]:
    """Open a link as a browser would (redirects, cookies): the final status and page."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    try:
        with opener.open(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.mark.browser
def test_link_opened_in_chromium_lands_on_the_console_as_the_role(signed_in, home, tmp_path, monkeypatch):
    need_program("chromium")
    need(__import__("importlib").util.find_spec("playwright") is not None, "playwright is not installed")
    page_text, opened = tmp_path / "page.txt", tmp_path / "opened.log"
    monkeypatch.setenv("SSO_TRAY_TEST_BROWSER_LOG", str(opened))
    monkeypatch.setenv("BROWSER", f"{sys.executable} {BROWSERS / 'chromium.py'} %s")
    monkeypatch.setenv("SSO_TRAY_TEST_CLICK", "none")
    monkeypatch.setenv("SSO_TRAY_TEST_PAGE_TEXT", str(page_text))
    result = run_cli("console", "dev-admin", timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    # sso-tray is done once the browser has fetched the link; the browser goes on to the console by itself.
    text = wait_for(lambda: page_text.exists() and page_text.read_text(encoding="utf-8"), timeout=60, what="the console page")
    assert "AWS Management Console" in text
    assert sim_account(signed_in, 0) in text and sim_role(signed_in, 0) in text
    assert "eu-west-1" in text  # dev-admin's region picks the console's
    assert signed_in.calls().get("Federation:getSigninToken") == 1
    assert signed_in.calls().get("Federation:login") == 1
    creds = cached_credentials(home)
    for secret in (creds["SecretAccessKey"], creds["SessionToken"], "SigninToken", "federation"):
        assert secret not in result.stderr
    # The browser's command line had a one-time loopback address, never the sign-in link.
    [address] = opened.read_text(encoding="utf-8").splitlines()
    assert address.startswith("http://127.0.0.1:") and "federation" not in address
    with pytest.raises(OSError):
        urllib.request.urlopen(address, timeout=5)  # served once, then gone with the command


def test_print_gives_a_one_time_link_to_the_region_and_destination_asked_for(signed_in, home, caplog):
    caplog.set_level(logging.DEBUG)
    result = run_cli("console", "dev-read", "--print", "--region", "us-west-2")
    assert result.returncode == 0, result.stderr
    link = result.stdout.strip()
    query = parse_qs(urlsplit(link).query)
    assert link.startswith(signed_in.url + "/federation?")
    assert query["Action"] == ["login"] and query["Issuer"] == ["sso-tray"]
    assert query["Destination"] == ["https://us-west-2.console.aws.amazon.com/console/home?region=us-west-2"]
    status, page = follow(link)
    assert status == 200 and sim_account(signed_in, 1) in page and sim_role(signed_in, 1) in page and "us-west-2" in page
    assert follow(link)[0] == 400  # the sign-in token is spent
    # The simulator's request log names paths only: no sign-in token, no credentials.
    creds = cached_credentials(home)
    logged = caplog.text
    assert "/federation" in logged
    for secret in (query["SigninToken"][0], creds["SecretAccessKey"], creds["SessionToken"]):
        assert secret not in logged and secret not in result.stderr

    own = signed_in.url + "/console/s3/home?region=eu-north-1"
    link = run_cli("console", "dev-read", "--print", "--destination", own).stdout.strip()
    assert parse_qs(urlsplit(link).query)["Destination"] == [own]
    status, page = follow(link)
    assert status == 200 and "/console/s3/home" in page and "eu-north-1" in page


def test_credentials_the_simulator_did_not_issue_are_refused(signed_in, home):
    assert run_cli("export", "dev-admin").returncode == 0
    real = cached_credentials(home)
    config = AwsConfig.load()
    profile = RoleProfile("dev-admin", config.session("dev"), sim_account(signed_in, 0), sim_role(signed_in, 0))
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    good = RoleCredentials(real["AccessKeyId"], real["SecretAccessKey"], real["SessionToken"], later)
    assert console.console_url(profile, good).startswith(signed_in.url)
    forged = [
        RoleCredentials("ASIAFORGED0000000000", real["SecretAccessKey"], real["SessionToken"], later),
        RoleCredentials(real["AccessKeyId"], "x" * 40, real["SessionToken"], later),
        RoleCredentials(real["AccessKeyId"], real["SecretAccessKey"], "forged-token", later),
    ]
    for creds in forged:
        with pytest.raises(AwsError) as e:
            console.console_url(profile, creds)
        assert "refused" in str(e.value) and "HTTP 400" in str(e.value)
        assert real["SecretAccessKey"] not in str(e.value) and real["SessionToken"] not in str(e.value)
    signed_in.advance_time(2 * 3600)  # the issued credentials have expired by the simulator's clock
    with pytest.raises(AwsError):
        console.console_url(profile, good)


def test_partitions_have_their_own_sign_in_and_console_hosts(monkeypatch):
    monkeypatch.delenv("SSO_TRAY_FEDERATION_URL", raising=False)
    assert console.federation_url("eu-west-1") == "https://signin.aws.amazon.com/federation"
    assert console.federation_url("cn-north-1") == "https://signin.amazonaws.cn/federation"
    assert console.federation_url("us-gov-west-1") == "https://signin.amazonaws-us-gov.com/federation"
    assert console.default_destination("cn-northwest-1") == "https://console.amazonaws.cn/console/home?region=cn-northwest-1"
    assert console.default_destination("us-gov-east-1") == "https://console.amazonaws-us-gov.com/console/home?region=us-gov-east-1"
    monkeypatch.setenv("SSO_TRAY_FEDERATION_URL", "http://127.0.0.1:9/federation")
    assert console.federation_url("cn-north-1") == "http://127.0.0.1:9/federation"


def test_bad_input_is_one_line_and_exit_2(signed_in):
    for args in (("--region", "mars-1"), ("--destination", "javascript:alert(1)"), ("--destination", "not a url")):
        result = run_cli("console", "dev-admin", "--print", *args)
        assert result.returncode == 2 and result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1
    assert signed_in.calls().get("Federation:getSigninToken") is None


def test_signed_out_is_exit_3_and_no_link(sso_env, monkeypatch):
    monkeypatch.setenv("SSO_TRAY_FEDERATION_URL", sso_env.url + "/federation")
    result = run_cli("console", "dev-admin", "--print")
    assert result.returncode == 3 and result.stdout == "" and "sso-tray login" in result.stderr


def test_no_browser_is_exit_4_and_no_link(signed_in, monkeypatch):
    monkeypatch.setenv("BROWSER", "false %s")
    result = run_cli("console", "dev-admin")
    assert result.returncode == 4 and "--print" in result.stderr and "federation" not in result.stderr + result.stdout

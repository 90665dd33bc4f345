"""SSO sessions without sso_region (AWS CLI v2 2.35.13+): the region from the start URL's host, or from where a
vanity start URL redirects once; written back after the sign-in; a section that cannot be used is its own problem."""

import json

import pytest

from conftest import START_URL, botocore_credentials, run_cli, sim_account, sim_role, write_config
from tray.core.errors import AwsError, ConfigError
from tray.core.identity import startregion
from tray.core.identity.config import AwsConfig

APP_AWS = "https://ssoins-72231f0e.portal.eu-west-1.app.aws/start"


@pytest.mark.parametrize("host, region", [
    ("ssoins-abc.portal.us-west-2.app.aws", "us-west-2"),
    ("ssoins-abc.us-gov-west-1.portal.amazonaws.com", "us-gov-west-1"),
    ("ssoins-abc.cn-north-1.portal.amazonaws.com.cn", "cn-north-1"),
    ("ssoins-abc.portal.cn-northwest-1.app.amazonwebservices.com.cn", "cn-northwest-1"),
    ("ssoins-abc.eusc-de-east-1.portal.amazonaws.eu", "eusc-de-east-1"),
    ("ssoins-abc.portal.eusc-de-east-1.api.amazonwebservices.eu", "eusc-de-east-1"),
    ("SSOINS-ABC.PORTAL.EU-WEST-1.APP.AWS.", "eu-west-1"),
    ("d-abc123.awsapps.com", None),
    ("identitycenter.us-gov.amazonaws.com", None),
    ("x.app.aws.example.com", None),
])
def test_region_from_host(host, region):
    assert startregion.region_from_host(host) == region


@pytest.mark.parametrize("host, owned", [
    ("d-abc.awsapps.com", True), ("d-abc.awsapps.cn", True), ("identitycenter.amazonaws.eu", True),
    ("identitycenter.amazonaws.com.cn", True), ("awsapps.com.evil.net", False), ("evil-awsapps.com", False),
    ("notidentitycenter.amazonaws.com", False), ("portal.amazonaws.com.evil.net", False),
])
def test_aws_owned_hosts(host, owned):
    assert startregion.is_aws_owned(host) is owned


def _config(sim, start_url: str, extra: str = "") -> str:
    return f"""# team config
[sso-session corp]
sso_start_url = {start_url}
sso_registration_scopes = sso:account:access

[profile corp-admin]
sso_session = corp
sso_account_id = {sim_account(sim, 0)}
sso_role_name = {sim_role(sim, 0)}
{extra}"""


def _signed_in_with_region(home, sim, start_url, region):
    """Sign in to `corp` (no sso_region), then check the write-back: that key only, every other byte kept."""
    before = _config(sim, start_url)
    path = write_config(home, before)
    result = run_cli("login", "--sso-session", "corp")
    assert result.returncode == 0, result.stderr
    after = path.read_text(encoding="utf-8")
    assert after == before.replace("[sso-session corp]\n", f"[sso-session corp]\nsso_region = {region}\n")
    assert AwsConfig.load(path).session("corp").region == region
    return result


def test_app_aws_start_url_without_sso_region(sso_env, home):
    _signed_in_with_region(home, sso_env, APP_AWS, "eu-west-1")
    status = json.loads(run_cli("status", "corp", "--json").stdout)["sessions"][0]
    assert (status["status"], status["region"]) == ("valid", "eu-west-1")
    # real botocore reads the written-back config and the token sso-tray wrote
    creds = botocore_credentials("corp-admin")
    assert sso_env.issued_credentials(creds["access_key"])


@pytest.mark.parametrize("head_allowed", [True, False], ids=["head", "get-after-405"])
def test_vanity_start_url_redirects_once(sso_env, home, monkeypatch, head_allowed):
    sso_env.serve_vanity("sso.example.com", "https://ssoins-1e9e.portal.eu-central-1.app.aws:443/start/", head_allowed)
    monkeypatch.setenv(startregion.PROBE_VARIABLE, sso_env.url)
    _signed_in_with_region(home, sso_env, "https://sso.example.com/start", "eu-central-1")
    assert sso_env.calls()["VanityStartUrl"] == (1 if head_allowed else 2)
    assert startregion.resolve("https://sso.example.com/start") == ("https://ssoins-1e9e.portal.eu-central-1.app.aws/start", "eu-central-1")
    assert botocore_credentials("corp-admin")["access_key"]


def test_eu_sovereign_start_url(sso_env, home):
    _signed_in_with_region(home, sso_env, "https://ssoins-5.eusc-de-east-1.portal.amazonaws.eu/start", "eusc-de-east-1")


def test_vanity_errors_name_what_was_tried(sso_env, home, monkeypatch):
    monkeypatch.setenv(startregion.PROBE_VARIABLE, sso_env.url)
    with pytest.raises(AwsError, match=r"https://nowhere.example.com/start .*HEAD answered HTTP 404"):
        startregion.resolve("https://nowhere.example.com/start")
    sso_env.serve_vanity("evil.example.com", "https://phish.example.net/start")
    with pytest.raises(ConfigError, match=r"redirects to https://phish.example.net/start, which is not an AWS-owned portal"):
        startregion.resolve("https://evil.example.com/start")
    sso_env.serve_vanity("plain.example.com", "http://ssoins-1.portal.us-east-1.app.aws/start")
    with pytest.raises(ConfigError, match="which is not https"):
        startregion.resolve("https://plain.example.com/start")
    sso_env.serve_vanity("d.example.com", "https://d-123.awsapps.com/start")
    with pytest.raises(ConfigError, match="whose host does not name its region"):
        startregion.resolve("https://d.example.com/start")
    write_config(home, _config(sso_env, "https://evil.example.com/start"))
    result = run_cli("login", "--sso-session", "corp")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "phish.example.net" in result.stderr
    assert "sso_region" not in (home / ".aws" / "config").read_text(encoding="utf-8")


def test_a_section_that_cannot_be_used_is_its_own_problem(sso_env, home):
    """One unusable section (no region and none to find, no start URL, a broken profile) fails only itself."""
    config = (home / ".aws" / "config").read_text(encoding="utf-8") + """
[sso-session noregion]
sso_start_url = https://d-123.awsapps.com/start

[sso-session nourl]
sso_region = us-east-1

[profile half]
sso_session = noregion
sso_account_id = 111122223333
"""
    write_config(home, config)
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    status = run_cli("status")
    assert status.returncode == 2, status.stderr
    assert "dev — " in status.stdout and "left" in status.stdout
    assert "noregion — cannot be used" in status.stdout and "d-123.awsapps.com does not name its region" in status.stdout
    assert "nourl — cannot be used" in status.stdout and "missing key sso_start_url" in status.stdout
    body = json.loads(run_cli("status", "--json").stdout)
    by_name = {s["name"]: s for s in body["sessions"]}
    assert by_name["dev"]["status"] == "valid" and by_name["dev"]["problem"] is None
    assert "missing key sso_region" in by_name["noregion"]["problem"]
    assert run_cli("status", "dev").returncode == 0
    export = run_cli("export", "dev-admin")
    assert export.returncode == 0 and "AWS_ACCESS_KEY_ID" in export.stdout, export.stderr
    assert run_cli("exec", "dev-read", "--", "true").returncode == 0
    for args in (("export", "half"), ("login", "--sso-session", "noregion"), ("status", "noregion")):
        bad = run_cli(*args)
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1, (args, bad.stderr)
    assert "missing key sso_role_name" in run_cli("export", "half").stderr


def test_configure_takes_region_as_optional(sso_env, home):
    (home / ".aws" / "config").unlink()
    result = run_cli("configure", "--start-url", APP_AWS, "--name", "app", "--no-login")
    assert result.returncode == 0, result.stderr
    assert "sso_region = eu-west-1" in (home / ".aws" / "config").read_text(encoding="utf-8")
    vanity = run_cli("configure", "--start-url", "https://sso.example.com/start", "--name", "vanity", "--no-login")
    assert vanity.returncode == 0, vanity.stderr
    assert AwsConfig.load().session("vanity").region is None
    refused = run_cli("configure", "--start-url", START_URL, "--name", "plain", "--no-login")
    assert refused.returncode == 2 and "give its region (--region R)" in refused.stderr and refused.stderr.count("\n") == 1

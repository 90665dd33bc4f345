"""The AWS config, read as botocore reads it (tray.core.identity.config.read_config): sessions, legacy profiles, and clear errors."""

import hashlib

import pytest

from conftest import run_cli, write_config
from tray.core.identity.config import AwsConfig
from tray.core.errors import ConfigError, UsageError

GOOD = """[default]
region = us-east-1

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-west-1
sso_registration_scopes = sso:account:access, sso:other

[profile corp-admin]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Admin
region = eu-central-1

[profile old]
sso_start_url = https://old.awsapps.com/start
sso_region = us-west-2
sso_account_id = 444455556666
sso_role_name = ReadOnly

[profile static]
aws_access_key_id = x
"""


def test_sessions_and_profiles(home):
    config = AwsConfig.load(write_config(home, GOOD))
    corp = config.sessions["corp"]
    assert (corp.start_url, corp.region, corp.scopes, corp.legacy) == (
        "https://corp.awsapps.com/start", "eu-west-1", ("sso:account:access", "sso:other"), False)
    legacy = config.sessions["https://old.awsapps.com/start"]
    assert legacy.legacy and legacy.region == "us-west-2"
    assert set(config.profiles) == {"corp-admin", "old"}
    admin = config.profile("corp-admin")
    assert (admin.account_id, admin.role_name, admin.region, admin.session) == ("111122223333", "Admin", "eu-central-1", corp)
    # botocore's cache keys: sha1 of the session name, or of the start URL for legacy profiles
    assert corp.cache_key == hashlib.sha1(b"corp").hexdigest()
    assert legacy.cache_key == hashlib.sha1(b"https://old.awsapps.com/start").hexdigest()


def test_session_choice(home):
    config = AwsConfig.load(write_config(home, GOOD))
    with pytest.raises(UsageError, match="several SSO sessions"):
        config.session()
    with pytest.raises(UsageError, match="no sso-session named 'nope'"):
        config.session("nope")
    with pytest.raises(UsageError, match="no SSO profile named 'static'"):
        config.profile("static")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[sso-session a]\nsso_region = us-east-1\n", r"\[sso-session a\]: missing key sso_start_url"),
        ("[sso-session a]\nsso_start_url = https://x.awsapps.com/start\n", r"\[sso-session a\]: missing key sso_region"),
        ("[sso-session a]\nsso_start_url = x\nsso_region = r\n", r"\[sso-session a\]: sso_start_url = x is not an http"),
        ("[profile p]\nsso_session = ghost\n", r"\[profile p\]: sso_session = ghost names no \[sso-session ghost\]"),
        ("[profile p]\nsso_start_url = https://x.awsapps.com/start\n", r"\[profile p\]: missing key sso_region"),
        ("[sso-session a]\nsso_start_url = https://x\nsso_region = r\n[profile p]\nsso_session = a\nsso_account_id = 111122223333\n",
         r"\[profile p\]: missing key sso_role_name"),
        ("[sso-session a]\nsso_start_url = https://x\nsso_region = r\n[profile p]\nsso_session = a\nsso_account_id = 12\nsso_role_name = R\n",
         r"\[profile p\]: sso_account_id = 12 is not a 12-digit"),
        ("[sso-session a\nsso_start_url = https://x\n", r"not valid INI"),
    ],
)
def test_bad_config_names_file_section_and_key(home, text, expected):
    """A file that is not INI fails as a whole; a section that cannot be used fails when it is used, and only then."""
    path = write_config(home, text)
    with pytest.raises(ConfigError, match=expected) as info:
        config = AwsConfig.load(path)
        for session in config.sessions.values():
            if session.problem:
                raise ConfigError(session.problem)
        config.profile("p")
    assert str(path) in str(info.value)


def test_missing_config_file(home):
    with pytest.raises(ConfigError, match="no AWS config file"):
        AwsConfig.load(home / "nope")


def test_aws_config_file_env(home, monkeypatch):
    path = home / "elsewhere.ini"
    path.write_text(GOOD, encoding="utf-8")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(path))
    assert "corp" in AwsConfig.load().sessions


def test_cli_bad_config_one_line_exit_2(home, monkeypatch):
    write_config(home, "[sso-session a]\nsso_region = us-east-1\n")
    result = run_cli("status")
    assert result.returncode == 2
    assert result.stdout.startswith("a — cannot be used\n")
    assert result.stderr.count("\n") == 1 and "missing key sso_start_url" in result.stderr
    assert "Traceback" not in result.stderr

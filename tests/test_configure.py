"""`configure`: the AWS config written without the AWS CLI - only sso-tray's sections change, botocore and the AWS CLI read them (SPEC §9)."""

from __future__ import annotations

import stat

import pytest
from botocore.configloader import load_config

from conftest import START_URL
from tray.core import configwrite
from tray.core.errors import UsageError

HAND_WRITTEN = (
    "# my AWS config ✓\n"
    "; kept as it is\n"
    "[default]\n"
    "region = us-east-1\n"
    "output=json\n"
    "\n"
    "[profile  hand]   \n"
    "# a note inside\n"
    "region: eu-central-1\n"
    "s3 =\n"
    "  max_concurrent_requests = 20\n"
    "\n"
    "# about the session below\n"
    "[sso-session example]\n"
    "sso_start_url = https://old.awsapps.com/start\n"
    "my_own_note = stays\n"
    "sso_region = us-west-2\n"
    "\n"
    "# trailing comment\n"
)


@pytest.fixture
def config_file(home, monkeypatch):
    path = home / ".aws" / "config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(path))
    return path


@pytest.mark.parametrize(
    "url",
    [
        START_URL,
        "https://d-1234567890.awsapps.com/start/",
        "https://d-1234567890.awsapps.com/start/#",
        "https://start.us-gov-home.awsapps.com/directory/d-9067abcdef",
        "https://d-1234567890.awsapps.cn/start",
        "  https://example.awsapps.com/start  ",
    ],
)
def test_start_urls_identity_center_gives(url):
    assert configwrite.validate_start_url(url) == url.strip()


@pytest.mark.parametrize(
    "url",
    ["", "example.awsapps.com/start", "http://example.awsapps.com/start", "https://exa mple.awsapps.com/start",
     "https://", "https://localhost/start", "https://a..b/start", "https://me:pw@x.awsapps.com/start",
     "https://x.awsapps.com/start?next=evil"],
)
def test_bad_start_urls_are_one_clear_line(url):
    with pytest.raises(UsageError) as e:
        configwrite.validate_start_url(url)
    assert "start URL" in str(e.value) and "\n" not in str(e.value)
    assert "pw" not in str(e.value)


def test_regions_come_from_botocore():
    for region in ("us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"):
        assert configwrite.validate_region(region) == region
    assert configwrite.partition_of("cn-north-1") == "aws-cn"
    assert configwrite.partition_of("us-gov-west-1") == "aws-us-gov"
    for bad in ("", "eu-west-99", "EU-WEST-1", "global"):
        with pytest.raises(UsageError):
            configwrite.validate_region(bad)


def test_default_session_name_is_the_subdomain():
    assert configwrite.default_session_name(START_URL) == "example"
    assert configwrite.default_session_name("https://d-1234567890.awsapps.com/start/#") == "d-1234567890"
    assert configwrite.default_session_name("https://start.us-gov-home.awsapps.com/directory/d-9067abcdef") == "d-9067abcdef"


def test_new_session_in_a_fresh_home(config_file):
    assert not config_file.exists()
    assert configwrite.write_sso_session(START_URL, "eu-west-1") == "example"
    assert config_file.read_text() == (
        "[sso-session example]\n"
        f"sso_start_url = {START_URL}\n"
        "sso_region = eu-west-1\n"
        "sso_registration_scopes = sso:account:access\n"
    )
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert load_config(str(config_file))["sso_sessions"]["example"]["sso_region"] == "eu-west-1"


def test_updating_a_session_changes_only_its_own_keys(config_file):
    config_file.parent.mkdir()
    config_file.write_text(HAND_WRITTEN)
    config_file.chmod(0o640)
    configwrite.write_sso_session(START_URL, "eu-west-1", scopes=("sso:account:access", "codewhisperer:completions"))
    assert config_file.read_text() == HAND_WRITTEN.replace(
        "sso_start_url = https://old.awsapps.com/start\nmy_own_note = stays\nsso_region = us-west-2\n",
        f"sso_start_url = {START_URL}\nsso_region = eu-west-1\n"
        "sso_registration_scopes = sso:account:access, codewhisperer:completions\nmy_own_note = stays\n",
    )
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o640
    # A second session is appended after a blank line; the first stays as it is.
    before = config_file.read_bytes()
    assert configwrite.write_sso_session("https://other.awsapps.com/start", "us-east-1", name="other") == "other"
    assert config_file.read_bytes() == before + (
        b"\n[sso-session other]\nsso_start_url = https://other.awsapps.com/start\n"
        b"sso_region = us-east-1\nsso_registration_scopes = sso:account:access\n"
    )
    cfg = load_config(str(config_file))
    assert set(cfg["sso_sessions"]) == {"example", "other"}
    assert cfg["profiles"]["hand"]["region"] == "eu-central-1"


def test_a_symlinked_config_stays_a_link(config_file, tmp_path):
    real = tmp_path / "dotfiles" / "aws-config"
    real.parent.mkdir()
    real.write_text(HAND_WRITTEN)
    config_file.parent.mkdir()
    config_file.symlink_to(real)
    configwrite.write_sso_session(START_URL, "eu-west-1", name="second")
    assert config_file.is_symlink()
    assert real.read_text().startswith(HAND_WRITTEN)


@pytest.mark.parametrize(
    "args",
    [
        ("not-a-url", "eu-west-1", None),
        (START_URL, "mars-north-1", None),
        (START_URL, "eu-west-1", "has space"),
        (START_URL, "eu-west-1", "[bracket]"),
    ],
)
def test_bad_input_writes_nothing(config_file, args):
    config_file.parent.mkdir()
    config_file.write_text(HAND_WRITTEN)
    with pytest.raises(UsageError):
        configwrite.write_sso_session(*args)
    assert config_file.read_text() == HAND_WRITTEN

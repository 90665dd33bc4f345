"""`configure`: the AWS config written without the AWS CLI - only sso-tray's sections change, botocore and the AWS CLI read them (SPEC §9)."""

from __future__ import annotations

import hashlib
import json
import stat
import subprocess
import sys

import pytest
from botocore.configloader import load_config

from conftest import BROWSERS, START_URL, aws_cli, botocore_credentials, run_cli, sim_accounts
from tray.core.files import configwrite
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
        "https://d-1234567890.awsapps.com/start/#/?tab=accounts",  # the portal's address bar: `?` in the fragment
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


@pytest.mark.parametrize(
    "url",
    ["http://me:s3cr3t@x.awsapps.com/start", "https://me:s3cr3t@localhost/start", "https://me:s3cr3t@x.awsapps.com:99999/start",
     "https://me:s3cr3t@x]awsapps.com/start", "me:s3cr3t@x.awsapps.com/start", "https:/me:s3cr3t@x.awsapps.com/start",
     "https://x.awsapps.com:99999/start?token=s3cr3t", "http://x.awsapps.com/start?token=s3cr3t"],
)
def test_a_start_url_with_a_password_or_query_is_refused_without_showing_it(url):
    with pytest.raises(UsageError) as e:
        configwrite.validate_start_url(url)
    assert "start URL" in str(e.value) and "s3cr3t" not in str(e.value)


@pytest.mark.parametrize("bad", ["\x00", "\x1b[31m", "\x7f", "\x9b", "\u200e"])
def test_a_start_url_with_a_control_character_is_refused_without_showing_it(config_file, bad):
    with pytest.raises(UsageError) as e:
        configwrite.write_sso_session(f"https://a.awsapps.com/start{bad}", "us-east-1", "nul")
    assert "control character" in str(e.value) and str(e.value).isprintable()
    assert not config_file.exists()


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
    assert config_file.read_text(encoding="utf-8") == (
        "[sso-session example]\n"
        f"sso_start_url = {START_URL}\n"
        "sso_region = eu-west-1\n"
        "sso_registration_scopes = sso:account:access\n"
    )
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert load_config(str(config_file))["sso_sessions"]["example"]["sso_region"] == "eu-west-1"


def test_updating_a_session_changes_only_its_own_keys(config_file):
    config_file.parent.mkdir()
    config_file.write_text(HAND_WRITTEN, encoding="utf-8")
    config_file.chmod(0o640)
    configwrite.write_sso_session(START_URL, "eu-west-1", scopes=("sso:account:access", "codewhisperer:completions"))
    assert config_file.read_text(encoding="utf-8") == HAND_WRITTEN.replace(
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
    real.write_text(HAND_WRITTEN, encoding="utf-8")
    config_file.parent.mkdir()
    config_file.symlink_to(real)
    configwrite.write_sso_session(START_URL, "eu-west-1", name="second")
    assert config_file.is_symlink()
    assert real.read_text(encoding="utf-8").startswith(HAND_WRITTEN)


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
    config_file.write_text(HAND_WRITTEN, encoding="utf-8")
    with pytest.raises(UsageError):
        configwrite.write_sso_session(*args)
    assert config_file.read_text(encoding="utf-8") == HAND_WRITTEN


# --------------------------------------------------------------------------- the commands, end to end


@pytest.fixture
def fresh_env(home, simulator, monkeypatch):
    """A HOME with no AWS config at all; endpoints point at the simulator; a fetch-only $BROWSER."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", simulator.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", simulator.url)
    monkeypatch.setenv("BROWSER", f"{sys.executable} {BROWSERS / 'fetch.py'} %s")
    return simulator


def expected_names(sim) -> dict[str, tuple[str, str]]:
    return {f"{a.name}.{role}": (a.account_id, role) for a in sim_accounts(sim) for role in a.roles}


def test_configure_in_a_fresh_home_writes_the_session_and_signs_in(fresh_env, home):
    config = home / ".aws" / "config"
    result = run_cli("configure", "--start-url", START_URL, "--region", "us-east-1")
    assert result.returncode == 0, result.stderr
    assert "[sso-session example]" in result.stdout and "Signed in to example" in result.stdout
    assert load_config(str(config))["sso_sessions"]["example"] == {
        "sso_start_url": START_URL, "sso_region": "us-east-1", "sso_registration_scopes": "sso:account:access",
    }
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    token = json.loads((home / ".aws/sso/cache" / (hashlib.sha1(b"example").hexdigest() + ".json")).read_text(encoding="utf-8"))
    assert token["startUrl"] == START_URL
    assert run_cli("status").returncode == 0


def test_profiles_for_every_role_used_by_botocore_and_the_aws_cli(fresh_env, home):
    config = home / ".aws" / "config"
    config.parent.mkdir()
    config.write_text(HAND_WRITTEN, encoding="utf-8")
    assert run_cli("configure", "--start-url", START_URL, "--region", "us-east-1").returncode == 0
    before = config.read_text(encoding="utf-8")
    names = expected_names(fresh_env)
    assert len(names) == 6  # 3 accounts x 2 roles

    dry = run_cli("configure", "profiles", "--dry-run")
    assert dry.returncode == 0 and "would be added" in dry.stdout and config.read_text(encoding="utf-8") == before

    first = run_cli("configure", "profiles", "--region", "eu-west-1")
    assert first.returncode == 0, first.stderr
    assert "6 added, 0 updated, 0 unchanged, 0 removed" in first.stdout
    after = config.read_text(encoding="utf-8")
    assert after.startswith(before)  # every byte that was there, hand-written profile and comments included
    profiles = load_config(str(config))["profiles"]
    for name, (account_id, role) in names.items():
        assert profiles[name]["sso_session"] == "example"
        assert (profiles[name]["sso_account_id"], profiles[name]["sso_role_name"]) == (account_id, role)
        assert profiles[name]["region"] == "eu-west-1"
        aws = subprocess.run([str(aws_cli()), "configure", "get", "sso_role_name", "--profile", name],
                             capture_output=True, text=True, timeout=60)
        assert aws.returncode == 0 and aws.stdout.strip() == role, aws.stderr
    some = next(iter(names))
    assert botocore_credentials(some)["access_key"].startswith("ASIA")  # botocore's own SSO provider, in a fresh process

    second = run_cli("configure", "profiles", "--region", "eu-west-1")
    assert "0 added, 0 updated, 6 unchanged, 0 removed" in second.stdout
    assert config.read_text(encoding="utf-8") == after


def test_a_hand_written_profile_for_a_role_is_kept_and_not_doubled(fresh_env, home):
    assert run_cli("configure", "--start-url", START_URL, "--region", "us-east-1").returncode == 0
    config = home / ".aws" / "config"
    account = sim_accounts(fresh_env)[0]
    mine = f"\n# mine\n[profile mine]\nsso_session = example\nsso_account_id = {account.account_id}\nsso_role_name = {account.roles[0]}\n"
    config.write_text(config.read_text(encoding="utf-8") + mine, encoding="utf-8")
    result = run_cli("configure", "profiles")
    assert result.returncode == 0
    assert f"kept: {account.account_id}/{account.roles[0]} is your own [profile mine]" in result.stdout
    assert "5 added" in result.stdout
    assert mine in config.read_text(encoding="utf-8")
    assert f"{account.name}.{account.roles[0]}" not in load_config(str(config))["profiles"]


def test_a_name_clash_with_a_hand_written_profile_writes_nothing(fresh_env, home):
    assert run_cli("configure", "--start-url", START_URL, "--region", "us-east-1").returncode == 0
    config = home / ".aws" / "config"
    clash = next(iter(expected_names(fresh_env)))
    config.write_text(config.read_text(encoding="utf-8") + f"\n[profile {clash}]\nregion = us-east-2\n", encoding="utf-8")
    before = config.read_bytes()
    result = run_cli("configure", "profiles")
    assert result.returncode == 2 and f"profile {clash}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert config.read_bytes() == before


def test_prune_removes_only_its_own_profiles_whose_role_is_gone(fresh_env, home):
    assert run_cli("configure", "--start-url", START_URL, "--region", "us-east-1").returncode == 0
    config = home / ".aws" / "config"
    config.write_text(config.read_text(encoding="utf-8") + "\n# a note\n[profile hand]\nsso_session = example\nsso_account_id = 999999999999\nsso_role_name = Gone\n", encoding="utf-8")
    base = config.read_text(encoding="utf-8")
    assert run_cli("configure", "profiles").returncode == 0
    names = expected_names(fresh_env)

    fresh_env.options.roles_per_account = 1  # each account loses its second role
    remaining = expected_names(fresh_env)
    gone = sorted(set(names) - set(remaining))
    assert len(gone) == 3
    kept = run_cli("configure", "profiles")
    assert kept.returncode == 0 and all(f"role gone: [profile {n}]" in kept.stdout for n in gone)
    assert set(load_config(str(config))["profiles"]) >= set(names)

    pruned = run_cli("configure", "profiles", "--prune")
    assert pruned.returncode == 0 and "3 removed" in pruned.stdout
    profiles = load_config(str(config))["profiles"]
    assert set(profiles) == set(remaining) | {"hand"}  # the hand-written one (its role long gone) stays
    assert config.read_text(encoding="utf-8").startswith(base)


@pytest.mark.parametrize(
    "args",
    [
        ("configure", "--start-url", "example.awsapps.com/start", "--region", "us-east-1"),
        ("configure", "--start-url", START_URL, "--region", "moon-1"),
        ("configure", "--start-url", START_URL, "--region", "us-east-1", "--name", "two words"),
        ("configure", "--start-url", START_URL),
        ("configure", "--start-url", START_URL, "--region", "us-east-1", "--prune"),
        ("configure", "profiles", "--name-format", "{account}.{role_name}"),
        ("configure", "profiles", "--name-format", "{role_name}"),  # two accounts' roles would share a name
        ("configure", "profiles", "--region", "moon-1"),
        ("configure", "profiles", "--start-url", START_URL),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(fresh_env, home, args):
    config = home / ".aws" / "config"
    assert run_cli("configure", "--start-url", START_URL, "--region", "us-east-1").returncode == 0
    before = config.read_bytes()
    result = run_cli(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert config.read_bytes() == before


def test_profile_names_are_made_safe_for_a_section_and_a_shell(tmp_path):
    name = configwrite.profile_name(configwrite.DEFAULT_NAME_FORMAT, "123456789012", "Prod Account (EU)", "Admin", "s")
    assert name == "Prod-Account-EU.Admin"
    assert configwrite.profile_name("{sso_session}-{account_id}/{role_name}", "123456789012", "x", "Read+Only", "work") == "work-123456789012-Read+Only"
    text = f"[profile {name}]\nsso_session = s\nsso_account_id = 123456789012\nsso_role_name = Admin\nsso_tray_managed = true\n"
    plan, changes = configwrite.plan_profiles(text, "s", [("123456789012", "Prod Account (EU)", "Admin")])
    assert plan.unchanged == [name] and changes == {}
    (tmp_path / "config").write_text(text, encoding="utf-8")
    assert load_config(str(tmp_path / "config"))["profiles"][name]["sso_role_name"] == "Admin"


# --------------------------------------------------------------------------- values from the portal

INJECTED = "Admin\n[profile default]\ncredential_process = sh -c 'id > /tmp/pwned'"


@pytest.mark.parametrize("breaker", ["\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"])
def test_a_role_name_that_breaks_a_line_refuses_the_run_and_writes_nothing(fresh_env, home, breaker):
    assert run_cli("configure", "--start-url", START_URL, "--region", "us-east-1").returncode == 0
    config = home / ".aws" / "config"
    before = config.read_bytes()
    fresh_env.options.role_names = ["ReadOnly", INJECTED.replace("\n", breaker)]
    result = run_cli("configure", "profiles")
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "from the portal" in line and "nothing written" in line and "Traceback" not in line
    assert config.read_bytes() == before
    assert "default" not in load_config(str(config))["profiles"]


def test_the_planner_checks_every_value_it_would_write():
    good = ("123456789012", "Prod", "Admin")
    for roles in ([("123456789012", "Prod", INJECTED)],
                  [("444455556666\ncredential_process = touch /tmp/pwned", "Dev", "ReadOnly")],
                  [("1234567890123", "Dev", "ReadOnly")], [("١٢٣٤٥٦٧٨٩٠١٢", "Dev", "ReadOnly")], [("12345678901\n", "Dev", "R")],
                  [good, ("123456789012", "Prod", " Admin")]):
        with pytest.raises(UsageError) as e:
            configwrite.plan_profiles("", "s", roles)
        assert "\n" not in str(e.value) and "nothing written" in str(e.value)
    # A role the person wrote a profile for by hand is checked too: the portal's answer as a whole is refused.
    mine = "[profile mine]\nsso_session = s\nsso_account_id = 123456789012\nsso_role_name = Admin\n"
    with pytest.raises(UsageError):
        configwrite.plan_profiles(mine, "s", [good, ("123456789012", "Prod", "Ops\u2028[x]")])
    assert configwrite.plan_profiles(mine, "s", [good])[0].by_hand == [("123456789012/Admin", "mine")]


@pytest.mark.parametrize("breaker", ["\r", "\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"])
def test_the_ini_editor_refuses_a_line_break_in_any_name_or_value_for_every_caller(breaker):
    from tray.core.files import inifile

    for changes in ({f"profile a{breaker}[default]": {"region": "us-east-1"}},
                    {"profile a": {f"region{breaker}x": "us-east-1"}},
                    {"profile a": {"region": f"us-east-1{breaker}[default]"}},
                    {f"a{breaker}": None}):
        with pytest.raises(UsageError) as e:
            inifile.edit(HAND_WRITTEN, changes)
        assert "line break" in str(e.value) and not inifile.has_line_break(str(e.value))
        assert "us-east-1" not in str(e.value)  # a value is never shown: it may be a secret
    with pytest.raises(UsageError):
        inifile.check_values({"region": f"us-east-1{breaker}x"}, "the AWS config")

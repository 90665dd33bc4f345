"""Credentials out, as a person runs them: export in real shells, the clipboard, the credentials file,
credential_process for every SDK; against the simulator over HTTP, checked with botocore and the AWS CLI."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from conftest import aws_cli, botocore_credentials, need_program, run_cli, sim_accounts


@pytest.fixture
def signed_in(sso_env, home):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    sso_env.reset_counts()
    return sso_env


def role_cache_files(home):
    folder = home / ".aws" / "cli" / "cache"
    return sorted(folder.glob("*.json")) if folder.exists() else []


def evaluate(shell: str, lines: str, tmp_path) -> dict:
    """Source the lines in a real shell and read the variables back."""
    script = tmp_path / "creds"
    script.write_text(lines, encoding="utf-8")
    names = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CREDENTIAL_EXPIRATION", "AWS_REGION", "AWS_DEFAULT_REGION"]
    if shell == "fish":
        code = f"source {script}; " + "; ".join(f'printf "%s\\0" "${n}"' for n in names)
    else:
        code = f". {script}; " + "; ".join(f'printf "%s\\0" "${n}"' for n in names)
    out = subprocess.run([need_program(shell), "-c", code], capture_output=True, text=True, timeout=30, env={"PATH": os.environ["PATH"]})
    assert out.returncode == 0, out.stderr
    return dict(zip(names, out.stdout.split("\0")))


def test_export_bash_and_fish_set_exactly_the_cached_credentials(signed_in, home, tmp_path):
    result = run_cli("export", "dev-admin")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("export AWS_ACCESS_KEY_ID=")
    [cache] = role_cache_files(home)
    body = json.loads(cache.read_text(encoding="utf-8"))
    creds = body["Credentials"]
    values = evaluate("bash", result.stdout, tmp_path)
    assert values["AWS_ACCESS_KEY_ID"] == creds["AccessKeyId"]
    assert values["AWS_SECRET_ACCESS_KEY"] == creds["SecretAccessKey"]
    assert values["AWS_SESSION_TOKEN"] == creds["SessionToken"]
    assert datetime.fromisoformat(values["AWS_CREDENTIAL_EXPIRATION"]) == datetime.fromisoformat(creds["Expiration"].replace("Z", "+00:00"))
    assert values["AWS_REGION"] == values["AWS_DEFAULT_REGION"] == "eu-west-1"
    fish = run_cli("export", "dev-admin", "--format", "fish")
    assert fish.stdout.startswith('set -gx AWS_ACCESS_KEY_ID "')
    assert evaluate("fish", fish.stdout, tmp_path) == values
    # the second export was answered from the cache: one GetRoleCredentials in all
    assert signed_in.calls() == {"GetRoleCredentials": 1}


def test_role_cache_is_the_aws_cli_v2_one(signed_in, home):
    first = sim_accounts(signed_in)[0]
    assert run_cli("export", "dev-admin").returncode == 0
    key = json.dumps({"accountId": first.account_id, "roleName": first.roles[0], "sessionName": "dev"}, sort_keys=True, separators=(",", ":"))
    path = home / ".aws" / "cli" / "cache" / (hashlib.sha1(key.encode()).hexdigest() + ".json")
    body = json.loads(path.read_text(encoding="utf-8"))
    assert body["ProviderType"] == "sso"
    assert set(body["Credentials"]) == {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration", "AccountId"}
    assert body["Credentials"]["Expiration"].endswith("Z")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # botocore's SSO provider with the AWS CLI v2's file cache reuses it: no second GetRoleCredentials
    assert botocore_credentials("dev-admin", cli_cache=True)["access_key"] == body["Credentials"]["AccessKeyId"]
    assert signed_in.calls() == {"GetRoleCredentials": 1}
    # and what it caches for another role, sso-tray reuses
    other = botocore_credentials("dev-read", cli_cache=True)
    assert signed_in.calls() == {"GetRoleCredentials": 2}
    assert f"AWS_ACCESS_KEY_ID={other['access_key']}" in run_cli("export", "dev-read", "--format", "dotenv").stdout
    assert signed_in.calls() == {"GetRoleCredentials": 2}


def test_credentials_cached_by_the_aws_cli_are_reused_without_a_call(signed_in, home):
    first = sim_accounts(signed_in)[0]
    key = json.dumps({"accountId": first.account_id, "roleName": first.roles[0], "sessionName": "dev"}, sort_keys=True, separators=(",", ":"))
    path = home / ".aws" / "cli" / "cache" / (hashlib.sha1(key.encode()).hexdigest() + ".json")
    path.parent.mkdir(parents=True)
    expires = (datetime.now(timezone.utc) + timedelta(minutes=50)).strftime("%Y-%m-%dT%H:%M:%SZ")
    path.write_text(json.dumps({"ProviderType": "sso", "Credentials": {
        "AccessKeyId": "ASIAFROMAWSCLI00000", "SecretAccessKey": "cli-secret", "SessionToken": "cli-token", "Expiration": expires}}), encoding="utf-8")
    result = run_cli("export", "dev-admin", "--format", "dotenv")
    assert "AWS_ACCESS_KEY_ID=ASIAFROMAWSCLI00000\n" in result.stdout
    assert signed_in.calls() == {}
    # within 5 minutes of expiry they are fetched anew
    path.write_text(path.read_text(encoding="utf-8").replace(expires, (datetime.now(timezone.utc) + timedelta(minutes=4)).strftime("%Y-%m-%dT%H:%M:%SZ")), encoding="utf-8")
    again = run_cli("export", "dev-admin", "--format", "dotenv")
    assert "ASIAFROMAWSCLI00000" not in again.stdout and signed_in.calls() == {"GetRoleCredentials": 1}


def test_export_from_the_cache_imports_no_aws_sdk(signed_in):
    """SPEC §5: answered from disk with no part of the SDK, not even its config loader (read_config reads as
    it does); nor dataclasses (tray/cli), nor dateutil's parser (only times Python cannot read need it:
    tray/core/credentials.py)."""
    assert run_cli("export", "dev-admin").returncode == 0
    code = "import sys; from tray.cli import main; main(['export', 'dev-admin']); print(*sys.modules, file=sys.stderr)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.startswith("export AWS_ACCESS_KEY_ID=")
    modules = set(result.stderr.split())
    assert "configparser" in modules
    assert not modules & {"boto3", "botocore", "dataclasses", "argparse", "tray.core.identity.startregion", "dateutil.parser"}
    assert signed_in.calls() == {"GetRoleCredentials": 1}


def test_profile_by_account_id_and_by_account_name(signed_in, tmp_path):
    second = sim_accounts(signed_in)[1]
    by_id = run_cli("export", f"{second.account_id}/{second.roles[1]}", "--format", "json")
    assert by_id.returncode == 0, by_id.stderr
    assert json.loads(by_id.stdout)["Version"] == 1
    by_name = run_cli("export", f"{second.name}/{second.roles[1]}", "--format", "json")
    assert by_name.returncode == 0, by_name.stderr
    assert json.loads(by_name.stdout)["AccessKeyId"] == json.loads(by_id.stdout)["AccessKeyId"]


def test_json_format_is_the_credential_process_object(signed_in):
    out = json.loads(run_cli("credential-process", "dev-read").stdout)
    assert set(out) == {"Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    assert out["Version"] == 1 and out["AccessKeyId"].startswith("ASIA")


def test_credential_process_profile_works_in_botocore_and_the_aws_cli(signed_in, home, moto_sts):
    config = home / ".aws" / "config"
    command = f"{sys.executable} -m tray credential-process dev-admin"
    config.write_text(config.read_text(encoding="utf-8") + f"\n[profile via-process]\ncredential_process = {command}\nregion = us-east-1\n", encoding="utf-8")
    creds = botocore_credentials("via-process")
    assert creds["access_key"].startswith("ASIA") and creds["token"]
    env = dict(os.environ, AWS_ENDPOINT_URL_STS=moto_sts)
    ident = subprocess.run([str(aws_cli()), "sts", "get-caller-identity", "--profile", "via-process", "--output", "json"],
                           env=env, capture_output=True, text=True, timeout=60)
    assert ident.returncode == 0, ident.stderr
    assert "Account" in json.loads(ident.stdout)


def test_write_to_the_credentials_file_for_botocore_and_the_aws_cli(signed_in, home, moto_sts):
    result = run_cli("write", "dev-admin")
    assert result.returncode == 0, result.stderr
    assert "Wrote [dev-admin]" in result.stdout
    path = home / ".aws" / "credentials"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert run_cli("write", "dev-read", "--as", "ci").returncode == 0
    text = path.read_text(encoding="utf-8")
    assert "[dev-admin]" in text and "[ci]" in text and "aws_credential_expiration" in text and "region = eu-west-1" in text
    # the AWS CLI reads it (config without the SSO profiles, so the credentials file is what counts)
    env = dict(os.environ, AWS_CONFIG_FILE=str(home / "empty-config"), AWS_ENDPOINT_URL_STS=moto_sts)
    (home / "empty-config").write_text("", encoding="utf-8")
    got = subprocess.run([str(aws_cli()), "configure", "get", "aws_access_key_id", "--profile", "ci"], env=env, capture_output=True, text=True, timeout=60)
    assert got.returncode == 0 and got.stdout.strip().startswith("ASIA")
    ident = subprocess.run([str(aws_cli()), "sts", "get-caller-identity", "--profile", "ci", "--region", "us-east-1"], env=env, capture_output=True, text=True, timeout=60)
    assert ident.returncode == 0, ident.stderr


def test_write_narrows_a_credentials_file_others_can_read(signed_in, home):
    path = home / ".aws" / "credentials"
    path.write_text("[mine]\naws_access_key_id = AKIAMINE\n", encoding="utf-8")
    path.chmod(0o644)
    assert run_cli("write", "dev-admin").returncode == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="utf-8").startswith("[mine]\naws_access_key_id = AKIAMINE\n")


def test_aws_shared_credentials_file_is_honoured(signed_in, home, monkeypatch):
    target = home / "elsewhere" / "creds"
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(target))
    assert run_cli("write", "dev-admin").returncode == 0
    assert "[dev-admin]" in target.read_text(encoding="utf-8") and not (home / ".aws" / "credentials").exists()


@pytest.mark.display
def test_copy_puts_the_lines_on_the_clipboard_and_prints_no_secret(signed_in, home, xvfb):
    need_program("xclip")
    result = run_cli("export", "dev-admin", "--copy", "--format", "dotenv")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and "Copied the dotenv export lines for dev-admin" in result.stderr
    # once the accounts are listed (and cached), the account is named first, the profile's name beside it
    assert run_cli("profiles", "--sso-session", "dev").returncode == 0
    result = run_cli("export", "dev-admin", "--copy", "--format", "dotenv")
    first = sim_accounts(signed_in)[0]
    assert result.stdout == "" and f"Copied the dotenv export lines for {first.name} / {first.roles[0]} (dev-admin)" in result.stderr
    pasted = subprocess.run(["xclip", "-selection", "clipboard", "-o"], capture_output=True, text=True, timeout=10).stdout
    body = json.loads(role_cache_files(home)[0].read_text(encoding="utf-8"))["Credentials"]
    assert f"AWS_SECRET_ACCESS_KEY={body['SecretAccessKey']}" in pasted
    assert body["SecretAccessKey"] not in result.stderr


def test_copy_without_a_clipboard_exits_4_naming_the_packages(signed_in, monkeypatch, tmp_path):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(sys.executable, bin_dir / "python3")
    monkeypatch.setenv("PATH", str(bin_dir))
    result = run_cli("export", "dev-admin", "--copy")
    assert result.returncode == 4
    assert "xclip, xsel or wl-clipboard" in result.stderr and result.stdout == ""


# --- bad inputs ------------------------------------------------------------------------------------


def test_unknown_profile_exit_2(signed_in):
    result = run_cli("export", "nope")
    assert result.returncode == 2 and "no profile named 'nope'" in result.stderr
    assert run_cli("export", "nosuch-account/Admin").returncode == 2
    assert signed_in.calls().get("GetRoleCredentials") is None


def test_role_not_assigned_exit_4_says_so(signed_in):
    first = sim_accounts(signed_in)[0]
    result = run_cli("export", f"{first.account_id}/NotMyRole")
    assert result.returncode == 4
    assert "is not assigned to you" in result.stderr and result.stderr.count("\n") == 1


def test_signed_out_or_expired_exit_3(sso_env, home):
    result = run_cli("export", "dev-admin")
    assert result.returncode == 3 and "sso-tray login --sso-session dev" in result.stderr
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    token = home / ".aws" / "sso" / "cache" / (hashlib.sha1(b"dev").hexdigest() + ".json")
    body = json.loads(token.read_text(encoding="utf-8"))
    body["expiresAt"] = "2020-01-01T00:00:00Z"
    body.pop("refreshToken")
    token.write_text(json.dumps(body), encoding="utf-8")
    expired = run_cli("export", "dev-admin")
    assert expired.returncode == 3 and "expired" in expired.stderr


def test_revoked_session_exit_3(signed_in):
    signed_in.revoke_all_tokens()
    result = run_cli("export", "dev-admin")
    assert result.returncode == 3 and "no longer valid" in result.stderr


def test_unwritable_credentials_file_exit_4_untouched(signed_in, home, monkeypatch):
    blocker = home / "not-a-folder"
    blocker.write_text("a file where a folder should be\n", encoding="utf-8")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(blocker / "credentials"))
    result = run_cli("write", "dev-admin")
    assert result.returncode == 4 and str(blocker) in result.stderr
    assert blocker.read_text(encoding="utf-8") == "a file where a folder should be\n"


def test_no_secret_in_any_error(signed_in, home):
    run_cli("export", "dev-admin")
    body = json.loads(role_cache_files(home)[0].read_text(encoding="utf-8"))["Credentials"]
    token = json.loads((home / ".aws/sso/cache" / (hashlib.sha1(b"dev").hexdigest() + ".json")).read_text(encoding="utf-8"))
    outputs = [run_cli(*args) for args in (("export", "nope"), ("export", "111100000000/NotMine"), ("write", "dev-admin", "--as", "bad\nname"))]
    signed_in.revoke_all_tokens()
    outputs.append(run_cli("export", "111100000001/PowerUserAccess"))
    for out in outputs:
        for secret in (body["SecretAccessKey"], body["SessionToken"], token["accessToken"], token["refreshToken"], token["clientSecret"]):
            assert secret not in out.stdout + out.stderr

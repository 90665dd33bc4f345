"""Role credentials are handed out only with more than 15 minutes left (SPEC §5): botocore refreshes inside
15 minutes of expiry, so anything less would make every SDK call run `credential-process` again."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest

from conftest import run_cli, sim_accounts


@pytest.fixture
def signed_in(sso_env, home):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    sso_env.reset_counts()
    return sso_env


def cache_role_credentials(home, sim, minutes_left: float) -> str:
    """A role-credential file as the AWS CLI v2 leaves it for `dev-admin`, expiring in `minutes_left`."""
    first = sim_accounts(sim)[0]
    key = json.dumps({"accountId": first.account_id, "roleName": first.roles[0], "sessionName": "dev"}, sort_keys=True, separators=(",", ":"))
    path = home / ".aws" / "cli" / "cache" / (hashlib.sha1(key.encode()).hexdigest() + ".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    expires = (datetime.now(timezone.utc) + timedelta(minutes=minutes_left)).strftime("%Y-%m-%dT%H:%M:%SZ")
    path.write_text(json.dumps({"ProviderType": "sso", "Credentials": {
        "AccessKeyId": "ASIACACHED000000000", "SecretAccessKey": "cached-secret", "SessionToken": "cached-token",
        "Expiration": expires, "AccountId": first.account_id}}), encoding="utf-8")
    return expires


def test_credential_process_fetches_anew_with_10_minutes_left(signed_in, home):
    cache_role_credentials(home, signed_in, minutes_left=10)
    result = run_cli("credential-process", "dev-admin")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["AccessKeyId"] != "ASIACACHED000000000"
    assert signed_in.calls() == {"GetRoleCredentials": 1}
    left = datetime.fromisoformat(out["Expiration"].replace("Z", "+00:00")) - datetime.now(timezone.utc)
    assert left > timedelta(minutes=15)


def test_export_fetches_anew_with_10_minutes_left_and_reuses_with_20(signed_in, home):
    cache_role_credentials(home, signed_in, minutes_left=10)
    result = run_cli("export", "dev-admin", "--format", "dotenv")
    assert result.returncode == 0, result.stderr
    assert "ASIACACHED000000000" not in result.stdout and signed_in.calls() == {"GetRoleCredentials": 1}
    signed_in.reset_counts()
    cache_role_credentials(home, signed_in, minutes_left=20)
    reused = run_cli("export", "dev-admin", "--format", "dotenv")
    assert "AWS_ACCESS_KEY_ID=ASIACACHED000000000\n" in reused.stdout
    assert signed_in.calls() == {}

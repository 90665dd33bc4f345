"""Times in the caches, in every form botocore reads them (issue 17, item 5): Python 3.10's `fromisoformat`
rejects fractions other than 3 or 6 digits and `+0000` offsets, and a valid token then looked signed out.
The CI's Python lanes (scripts/test-pythons) run this file on 3.10 and 3.13."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest

from conftest import botocore_credentials, run_cli, sim_accounts
from tray.core.credentials import parse_time

# The forms another SDK or tool may leave (all read by botocore, with dateutil), as strftime patterns.
FORMS = {
    "nanoseconds": "%Y-%m-%dT%H:%M:%S.123456789Z",
    "one digit": "%Y-%m-%dT%H:%M:%S.5Z",
    "offset without colon": "%Y-%m-%dT%H:%M:%S+0000",
}


def token_path(home):
    return home / ".aws" / "sso" / "cache" / (hashlib.sha1(b"dev").hexdigest() + ".json")


def role_cache_path(home, sim):
    first = sim_accounts(sim)[0]
    key = json.dumps({"accountId": first.account_id, "roleName": first.roles[0], "sessionName": "dev"}, sort_keys=True, separators=(",", ":"))
    return home / ".aws" / "cli" / "cache" / (hashlib.sha1(key.encode()).hexdigest() + ".json")


def rewrite(path, key: str, value: str) -> None:
    body = json.loads(path.read_text(encoding="utf-8"))
    (body["Credentials"] if key == "Expiration" else body)[key] = value
    path.write_text(json.dumps(body), encoding="utf-8")


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
def test_parse_time_reads_what_botocore_reads(form):
    import dateutil.parser

    text = datetime(2026, 12, 5, 3, 4, 5, tzinfo=timezone.utc).strftime(form)
    assert parse_time(text) == dateutil.parser.parse(text)


def test_parse_time_still_refuses_what_is_not_a_time():
    for text in ("", "soon", "2026-13-01T00:00:00Z", "99999999999999999999"):
        with pytest.raises(ValueError):
            parse_time(text)


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
def test_a_token_and_role_credentials_with_such_times_are_valid(form, sso_env, home):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    expires = datetime.now(timezone.utc) + timedelta(hours=2)
    rewrite(token_path(home), "expiresAt", expires.strftime(form))
    result = run_cli("status", "--json")
    assert result.returncode == 0, result.stderr
    [session] = json.loads(result.stdout)["sessions"]
    assert session["status"] == "valid" and 7000 < session["seconds_left"] <= 7200, session

    assert run_cli("export", "dev-admin").returncode == 0
    rewrite(role_cache_path(home, sso_env), "Expiration", (expires - timedelta(minutes=30)).strftime(form))
    sso_env.reset_counts()
    again = run_cli("export", "dev-admin", "--format", "dotenv")
    assert again.returncode == 0, again.stderr
    # answered from the cache: neither a renewal of the token nor new role credentials
    assert sso_env.calls() == {}
    # and botocore, with the AWS CLI v2's cache, takes the same files as they are
    cached = json.loads(role_cache_path(home, sso_env).read_text(encoding="utf-8"))["Credentials"]
    assert botocore_credentials("dev-admin", cli_cache=True)["access_key"] == cached["AccessKeyId"]
    assert sso_env.calls() == {}

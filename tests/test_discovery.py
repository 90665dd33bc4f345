"""Accounts and roles: all pages, concurrently, throttled or not, cached so the next run needs no call."""

from __future__ import annotations

import json
import time

import pytest

from conftest import run_cli, sim_accounts


@pytest.fixture
def signed_in(sso_env):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    sso_env.reset_counts()
    return sso_env


def profiles_json(*args):
    result = run_cli("profiles", "--json", *args, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result


def test_configured_names_win_and_everything_else_is_listed(signed_in):
    data, _ = profiles_json()
    by_name = {p["name"]: p for p in data["profiles"]}
    first, second = sim_accounts(signed_in)[:2]
    admin = by_name["dev-admin"]
    assert admin == {"name": "dev-admin", "sso_session": "dev", "account_id": first.account_id, "account_name": first.name,
                     "role_name": first.roles[0], "region": "eu-west-1", "source": "config"}
    assert f"{first.account_id}/{first.roles[0]}" not in by_name  # merged into the configured one
    assert by_name[f"{first.account_id}/{first.roles[1]}"]["source"] == "discovered"
    assert len(data["profiles"]) == sum(len(a.roles) for a in sim_accounts(signed_in))
    assert data["sessions"][0]["accounts"] == 3
    text = run_cli("profiles")
    assert text.returncode == 0 and text.stdout.splitlines()[0].startswith("dev-admin")


def test_2000_accounts_by_3_roles_all_found(signed_in):
    signed_in.options.accounts, signed_in.options.roles_per_account = 2000, 3
    started = time.monotonic()
    data, _ = profiles_json("--refresh")
    elapsed = time.monotonic() - started
    found = {(p["account_id"], p["role_name"]) for p in data["profiles"]}
    expected = {(a.account_id, r) for a in sim_accounts(signed_in) for r in a.roles}
    assert found == expected and len(found) == 6000
    calls = signed_in.calls()
    assert calls["ListAccounts"] == 20 and calls["ListAccountRoles"] == 2000
    assert elapsed < 60


def test_throttled_30_percent_all_found_no_error(signed_in):
    signed_in.options.accounts, signed_in.options.roles_per_account = 300, 2
    signed_in.options.throttle, signed_in.options.seed = 0.3, 7
    data, result = profiles_json("--refresh")
    assert len(data["profiles"]) == 600
    assert result.stderr == ""
    assert sum(signed_in.throttled().values()) > 50  # it really was throttled


def test_warm_cache_answers_without_any_api_call(signed_in):
    profiles_json()  # fills the cache
    signed_in.reset_counts()
    started = time.monotonic()
    data, _ = profiles_json()
    assert signed_in.calls() == {}
    assert len(data["profiles"]) == 6
    assert time.monotonic() - started < 5


def test_cache_file_is_private_and_atomic(signed_in, home):
    profiles_json()
    files = list((home / ".cache" / "sso-tray" / "accounts").glob("*.json"))
    assert len(files) == 1 and files[0].stat().st_mode & 0o777 == 0o600
    body = json.loads(files[0].read_text(encoding="utf-8"))
    assert body["session"] == "dev" and len(body["accounts"]) == 3
    files[0].write_text("{not json", encoding="utf-8")  # a corrupt cache is simply fetched again
    signed_in.reset_counts()
    data, _ = profiles_json()
    assert len(data["profiles"]) == 6 and signed_in.calls()["ListAccounts"] == 1


def test_accounts_are_kept_in_number_aware_order(signed_in, home):
    """network-7 before network-17 (the simulator names account i after its environment, then i)."""
    signed_in.options.accounts = 25
    profiles_json("--refresh")
    (cache,) = (home / ".cache" / "sso-tray" / "accounts").glob("*.json")
    names = [a["accountName"] for a in json.loads(cache.read_text(encoding="utf-8"))["accounts"]]
    assert names.index("network-7") == names.index("network-17") - 1 and names.index("dev-0") == names.index("dev-10") - 1
    assert sorted(names) != names  # as text, network-17 would come first


def test_signed_out_lists_configured_profiles_and_says_how_to_sign_in(sso_env):
    result = run_cli("profiles")
    assert result.returncode == 3
    assert "dev-admin" in result.stdout
    assert "sso-tray login --sso-session dev" in result.stderr


def test_adaptive_limiter_learns_a_rate_limit(signed_in):
    """Against a per-caller token bucket of 20 calls/s, discovery stays near the floor and is rarely throttled."""
    signed_in.options.accounts, signed_in.options.roles_per_account = 100, 1
    signed_in.options.rate_limit = 20
    started = time.monotonic()
    data, result = profiles_json("--refresh")
    elapsed = time.monotonic() - started
    assert len(data["profiles"]) == 100 and result.stderr == ""
    calls, throttled = sum(signed_in.calls().values()), sum(signed_in.throttled().values())
    floor = (calls - throttled) / 20
    assert elapsed < floor * 1.5 + 2  # generous; the real ratio is in the benchmark
    assert throttled / calls < 0.1


def test_names_from_the_portal_reach_the_terminal_escaped(signed_in):
    """A portal's account and role names are printed by `profiles`: an escape sequence in one (set the window
    title, clear the screen), a newline or a bidi override must show as escapes, not act (issue 17)."""
    signed_in.options.account_names = ["Prod\x1b]0;owned\x07\x1b[2J", "Dev\nfake-profile  999999999999 (Root)  Admin", "Sandbox"]
    signed_in.options.role_names = ["Admin\u202eetirW", "ReadOnly"]
    # --json was already safe (JSON escapes them) and keeps the names as the portal gave them
    data, _ = profiles_json("--refresh")
    assert {p["account_name"] for p in data["profiles"]} == set(signed_in.options.account_names)
    result = run_cli("profiles")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(data["profiles"]) and all(line.isprintable() for line in lines), result.stdout
    assert r"'Prod\x1b]0;owned\x07\x1b[2J'" in result.stdout and r"'Dev\nfake-profile" in result.stdout
    assert r"'Admin\u202eetirW'" in result.stdout


def test_an_error_that_names_what_the_portal_gave_is_one_escaped_line(signed_in):
    signed_in.options.role_names = ["Admin\x1b[2J", "ReadOnly\nsso-tray: all good"]
    first = sim_accounts(signed_in)[0]
    profiles_json("--refresh")
    result = run_cli("export", f"{first.name}/Nope")
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.isprintable() and line.startswith("sso-tray: \"no role 'Nope' in account"), line
    assert r"Admin\x1b[2J" in line and r"ReadOnly\nsso-tray: all good" in line

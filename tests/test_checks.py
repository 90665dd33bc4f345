"""Checks for scripts and the shell (issue 21): `status --min-remaining`, `login --if-needed`, `prompt`,
`exec` with no command, `console --service`, and `--duration` refused. Real processes against the simulator."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import ROOT, need_program, run_cli

@pytest.fixture
def signed_in(sso_env):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    sso_env.reset_counts()
    return sso_env


def token_file(home: Path) -> Path:
    [path] = [p for p in (home / ".aws" / "sso" / "cache").glob("*.json") if "accessToken" in p.read_text(encoding="utf-8")]
    return path


def set_token(home: Path, left: timedelta, refreshable: bool = True) -> None:
    """The token file as another program might leave it: `left` until expiry, with or without a refresh token."""
    path = token_file(home)
    body = json.loads(path.read_text(encoding="utf-8"))
    body["expiresAt"] = (datetime.now(timezone.utc) + left).strftime("%Y-%m-%dT%H:%M:%SZ")
    if not refreshable:
        body.pop("refreshToken", None)
    path.write_text(json.dumps(body), encoding="utf-8")


def expires_at(home: Path) -> datetime:
    text = json.loads(token_file(home).read_text(encoding="utf-8"))["expiresAt"]
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


# --- status --min-remaining ----------------------------------------------------------------------


def test_status_min_remaining_passes_and_fails_on_the_time_left(signed_in, home):
    set_token(home, timedelta(hours=1), refreshable=False)
    ok = run_cli("status", "dev", "--min-remaining", "30m")
    assert ok.returncode == 0 and ("dev — 59m left" in ok.stdout or "dev — 1h 0m left" in ok.stdout), ok.stdout
    short = run_cli("status", "dev", "--min-remaining", "2h")
    assert short.returncode == 3
    [line] = short.stderr.splitlines()
    assert "less than 2h 0m" in line and "sso-tray login --sso-session dev" in line
    assert signed_in.calls() == {}  # a check from the files: no call to AWS


def test_status_min_remaining_json_says_why(signed_in, home):
    set_token(home, timedelta(hours=1), refreshable=False)
    body = json.loads(run_cli("status", "dev", "--json", "--min-remaining", "2h").stdout)
    assert body["ok"] is False and body["min_remaining_seconds"] == 7200 and "less than 2h" in body["reason"]
    [session] = body["sessions"]
    assert session["status"] == "valid" and 3500 < session["seconds_left"] <= 3600 and session["refreshable"] is False
    body = json.loads(run_cli("status", "dev", "--json", "--min-remaining", "45m").stdout)
    assert body["ok"] is True and body["reason"] is None


def test_a_session_that_renews_itself_lasts(signed_in, home):
    set_token(home, timedelta(hours=1), refreshable=True)
    result = run_cli("status", "dev", "--min-remaining", "6h")
    assert result.returncode == 0, result.stderr
    assert "(renews itself)" in result.stdout


def test_status_of_a_profile_is_its_session_and_unknown_names_are_usage_errors(signed_in):
    assert run_cli("status", "dev-admin", "--min-remaining", "1h").returncode == 0
    unknown = run_cli("status", "nope")
    assert unknown.returncode == 2 and "nope" in unknown.stderr and "dev" in unknown.stderr
    bad = run_cli("status", "--min-remaining", "soon")
    assert bad.returncode == 2 and "not a duration" in bad.stderr


def test_status_min_remaining_when_signed_out(sso_env):
    result = run_cli("status", "dev", "--min-remaining", "1m")
    assert result.returncode == 3 and "dev is not signed in" in result.stderr


# --- login --if-needed ---------------------------------------------------------------------------


def test_login_if_needed_does_nothing_when_the_session_lasts(signed_in, home):
    before = token_file(home).read_bytes()
    result = run_cli("login", "--sso-session", "dev", "--if-needed", "--min-remaining", "2h")
    assert result.returncode == 0 and "no sign-in needed" in result.stdout
    assert token_file(home).read_bytes() == before and signed_in.calls() == {} and signed_in.authorize_requests() == []


def test_login_if_needed_renews_silently_when_it_can(signed_in, home):
    set_token(home, timedelta(minutes=-5), refreshable=True)  # expired, but the refresh token still works
    result = run_cli("login", "--sso-session", "dev", "--if-needed")
    assert result.returncode == 0, result.stderr
    assert "no sign-in needed" in result.stdout
    assert signed_in.calls().get("CreateToken") == 1 and signed_in.authorize_requests() == []  # no browser
    assert expires_at(home) > datetime.now(timezone.utc) + timedelta(hours=1)


def test_login_if_needed_signs_in_when_the_session_will_not_last(signed_in, home):
    set_token(home, timedelta(hours=1), refreshable=False)
    result = run_cli("login", "--sso-session", "dev", "--if-needed", "--min-remaining", "2h")
    assert result.returncode == 0, result.stderr
    # one sign-in: one code exchanged for a token (the authorize page may also be asked, once, whether it
    # still knows the cached client registration)
    assert "Signed in to dev" in result.stdout and signed_in.calls()["CreateToken"] == 1
    assert expires_at(home) > datetime.now(timezone.utc) + timedelta(hours=7)


def test_min_remaining_without_if_needed_is_a_usage_error(sso_env):
    result = run_cli("login", "--sso-session", "dev", "--min-remaining", "2h")
    assert result.returncode == 2 and "--if-needed" in result.stderr


# --- prompt ---------------------------------------------------------------------------------------


def prompt(**env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") or k in ("AWS_CONFIG_FILE",)}
    return run_cli("prompt", env={**base, **env})


def test_prompt_names_the_profile_and_its_time_left(signed_in, home):
    set_token(home, timedelta(hours=2, minutes=13, seconds=30), refreshable=False)
    result = prompt(AWS_PROFILE="dev-admin")
    assert (result.returncode, result.stdout, result.stderr) == (0, "dev-admin 2h13m\n", "")
    set_token(home, timedelta(minutes=-1), refreshable=False)
    assert prompt(AWS_PROFILE="dev-admin").stdout == "dev-admin expired\n"


def test_prompt_reads_the_credentials_own_expiry(sso_env):
    expiry = (datetime.now(timezone.utc) + timedelta(minutes=42, seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = prompt(AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_CREDENTIAL_EXPIRATION=expiry, SSO_TRAY_PROFILE="dev-read")
    assert result.stdout == "dev-read 42m\n"


def test_prompt_says_nothing_when_nothing_applies_or_the_files_are_broken(sso_env, home):
    assert prompt().stdout == ""
    assert prompt(AWS_PROFILE="not-sso").stdout == ""
    assert prompt(AWS_PROFILE="dev-admin").stdout == "dev-admin signed out\n"
    (home / ".aws" / "config").write_text("[profile dev-admin\nnot ini", encoding="utf-8")
    result = prompt(AWS_PROFILE="dev-admin")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_prompt_loads_no_aws_sdk(signed_in):
    code = ("import os, sys; os.environ['AWS_PROFILE'] = 'dev-admin'; from tray.cli import main; main(['prompt']);"
            " print(' '.join(sys.modules), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.stdout.startswith("dev-admin ")
    loaded = result.stderr.split()
    assert not [m for m in loaded if m.startswith(("boto3", "botocore.session", "botocore.client", "urllib3"))]


# --- exec with no command, console --service, --duration --------------------------------------


def test_exec_with_no_command_starts_the_shell_in_a_terminal(signed_in, tmp_path):
    shell = need_program("bash")
    main, child = pty.openpty()
    env = {**os.environ, "SHELL": shell, "PS1": "$ ", "HISTFILE": str(tmp_path / "history")}
    proc = subprocess.Popen([sys.executable, "-m", "tray", "exec", "dev-admin"], stdin=child, stdout=child, stderr=child,
                            env=env, start_new_session=True)
    os.close(child)
    os.write(main, b'echo "in=$SSO_TRAY_PROFILE key=${AWS_ACCESS_KEY_ID:+set}"; exit 7\n')
    seen = b""
    while True:  # until the shell has exited and the terminal closed
        ready, _, _ = select.select([main], [], [], 60)
        assert ready, seen
        try:
            chunk = os.read(main, 4096)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        seen += chunk
    os.close(main)
    assert proc.wait(timeout=60) == 7
    assert b"in=dev-admin key=set" in seen


def test_console_service_opens_that_service_page(signed_in, monkeypatch):
    monkeypatch.setenv("SSO_TRAY_FEDERATION_URL", signed_in.url + "/federation")
    result = run_cli("console", "dev-admin", "--print", "--service", "s3")
    assert result.returncode == 0, result.stderr
    destination = parse_qs(urlsplit(result.stdout.strip()).query)["Destination"]
    assert destination == ["https://eu-west-1.console.aws.amazon.com/s3/home?region=eu-west-1"]  # the profile's region
    result = run_cli("console", "dev-admin", "--print", "--service", "ec2", "--region", "ap-south-1")
    assert parse_qs(urlsplit(result.stdout.strip()).query)["Destination"] == ["https://ap-south-1.console.aws.amazon.com/ec2/home?region=ap-south-1"]


def test_console_service_is_checked_before_any_aws_call(signed_in):
    result = run_cli("console", "dev-admin", "--print", "--service", "s3/../x")
    assert result.returncode == 2 and "--service" in result.stderr and signed_in.calls() == {}
    both = run_cli("console", "dev-admin", "--service", "s3", "--destination", "https://example.com/")
    assert both.returncode == 2


@pytest.mark.parametrize("command", [["export", "dev-admin"], ["exec", "dev-admin", "--", "true"]])
def test_a_duration_is_refused_with_the_reason(sso_env, command):
    result = run_cli(*command[:2], "--duration", "2h", *command[2:])
    assert result.returncode == 2
    assert "permission set's session duration" in result.stderr and len(result.stderr.splitlines()) == 1


def test_the_prompt_knows_execs_marker():
    from tray.cli.prompt import EXEC_MARKER
    from tray.core.outlets.execrun import MARKER

    assert EXEC_MARKER == MARKER

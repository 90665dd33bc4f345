"""`exec`: a command run with a role's credentials - its environment seen from inside, its exit status, signals,
and `--server`'s container credentials endpoint used by real boto3 across credentials that near expiry (SPEC §9)."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import subprocess
import sys
import termios
import textwrap
import urllib.error
import urllib.request

import pytest

from conftest import run_cli
from desktop import wait_for

TRAY = [sys.executable, "-m", "tray"]


@pytest.fixture
def signed_in(sso_env):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    return sso_env


def cached_credentials(home) -> dict:
    [path] = (home / ".aws" / "cli" / "cache").glob("*.json")
    return json.loads(path.read_text(encoding="utf-8"))["Credentials"]


def script(tmp_path, name: str, code: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(code), encoding="utf-8")
    return str(path)


SHOW_ENV = """
import json, os
print(json.dumps({k: v for k, v in os.environ.items() if k.startswith(("AWS_", "SSO_TRAY_"))}))
"""


def test_environment_seen_from_inside(signed_in, home, tmp_path, monkeypatch):
    # Cached first: sso-tray's own botocore session would read the AWS_PROFILE set below.
    assert run_cli("export", "dev-admin").returncode == 0
    # Everything that would win over the role's credentials in an SDK is set outside.
    for name, value in {
        "AWS_PROFILE": "someone-else", "AWS_DEFAULT_PROFILE": "someone-else", "AWS_ACCESS_KEY_ID": "AKIASTALE",
        "AWS_SECRET_ACCESS_KEY": "stale", "AWS_SESSION_TOKEN": "stale", "AWS_SECURITY_TOKEN": "stale",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/creds", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:1/",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": "x", "AWS_WEB_IDENTITY_TOKEN_FILE": "/tmp/token", "AWS_ROLE_ARN": "arn:aws:iam::1:role/x",
        "AWS_REGION": "ap-south-1",
    }.items():
        monkeypatch.setenv(name, value)
    result = run_cli("exec", "dev-admin", "--", sys.executable, script(tmp_path, "env.py", SHOW_ENV))
    assert result.returncode == 0, result.stderr
    env = json.loads(result.stdout)
    creds = cached_credentials(home)
    assert env["AWS_ACCESS_KEY_ID"] == creds["AccessKeyId"]
    assert env["AWS_SECRET_ACCESS_KEY"] == creds["SecretAccessKey"]
    assert env["AWS_SESSION_TOKEN"] == creds["SessionToken"]
    assert env["AWS_CREDENTIAL_EXPIRATION"] == creds["Expiration"]
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"  # dev-admin's region
    assert env["SSO_TRAY_PROFILE"] == "dev-admin"
    for gone in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SECURITY_TOKEN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):
        assert gone not in env
    assert env["AWS_ENDPOINT_URL_SSO"] == signed_in.url  # the rest of the environment is passed on
    # botocore in the command takes exactly these credentials, from the environment.
    code = "import boto3; c = boto3.Session().get_credentials(); print(c.method, c.get_frozen_credentials().access_key)"
    result = run_cli("exec", "dev-admin", "--", sys.executable, "-c", code)
    assert result.stdout.split() == ["env", creds["AccessKeyId"]]
    assert creds["SecretAccessKey"] not in result.stderr


def test_exit_status_is_the_commands(signed_in, tmp_path):
    assert run_cli("exec", "dev-read", "--", sys.executable, "-c", "pass").returncode == 0
    assert run_cli("exec", "dev-read", "--", sys.executable, "-c", "import sys; sys.exit(7)").returncode == 7
    killed = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    assert run_cli("exec", "dev-read", "--", sys.executable, "-c", killed).returncode == 128 + signal.SIGTERM
    assert run_cli("exec", "dev-read", "--", sys.executable, "-c", "import os; os.kill(os.getpid(), 9)").returncode == 137
    missing = run_cli("exec", "dev-read", "--", str(tmp_path / "no-such-program"))
    assert missing.returncode == 127 and "command not found" in missing.stderr
    # the command's own flags and `--` are its own
    echo = run_cli("exec", "dev-read", "--", sys.executable, "-c", "import sys; print(sys.argv[1:])", "--server", "--", "-x")
    assert echo.stdout.strip() == "['--server', '--', '-x']"


def test_nesting_for_another_profile_needs_force(signed_in, monkeypatch):
    monkeypatch.setenv("SSO_TRAY_PROFILE", "dev-read")
    show = "import os; print(os.environ['SSO_TRAY_PROFILE'])"
    refused = run_cli("exec", "dev-admin", "--", sys.executable, "-c", show)
    assert refused.returncode == 2 and refused.stdout == "" and "--force" in refused.stderr
    assert run_cli("exec", "dev-admin", "--force", "--", sys.executable, "-c", show).stdout.strip() == "dev-admin"
    assert run_cli("exec", "dev-read", "--", sys.executable, "-c", show).returncode == 0  # the same profile again is fine


def test_bad_usage_and_signed_out(sso_env):
    # no command is the shell (tests/test_checks.py), started only once the credentials are there
    assert run_cli("exec", "dev-admin").returncode == 3
    assert run_cli("exec", "dev-admin", "--").returncode == 3
    assert run_cli("exec", "nope", "--", "true").returncode == 2
    signed_out = run_cli("exec", "dev-admin", "--", sys.executable, "-c", "print('ran')")
    assert signed_out.returncode == 3 and "ran" not in signed_out.stdout


SIGNALS = """
import os, signal, sys, time
seen = []
def note(n, _frame):
    seen.append(n)
signal.signal(signal.SIGINT, note)
signal.signal(signal.SIGTERM, note)
open(sys.argv[1] + ".ready", "w").close()
while not seen:
    time.sleep(0.01)
time.sleep(0.5)  # long enough for a second copy of the signal to arrive, were one sent
with open(sys.argv[1], "w") as f:
    f.write(" ".join(signal.Signals(n).name for n in seen))
signal.signal(seen[0], signal.SIG_DFL)
os.kill(os.getpid(), seen[0])
"""


# The way macOS and Windows run the command (no sigtimedwait there), driven here on Linux.
PORTABLE = """
import os, sys
from tray.core.outlets import execrun
sys.exit(execrun._run_portable(sys.argv[1:], dict(os.environ)))
"""


def launch(runner: str, tmp_path) -> list[str]:
    if runner == "sso-tray exec":
        return [*TRAY, "exec", "dev-admin", "--"]
    return [sys.executable, script(tmp_path, "portable.py", PORTABLE)]


@pytest.mark.parametrize("runner", ["sso-tray exec", "portable"])
def test_ctrl_c_at_a_terminal_reaches_the_command_once(signed_in, tmp_path, runner):
    """A real terminal: sso-tray exec runs as the session leader of a pty, and ^C is typed into it."""
    out = tmp_path / "seen"
    master, slave = pty.openpty()

    def controlling_terminal():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    child = [sys.executable, script(tmp_path, "child.py", SIGNALS), str(out)]
    launcher = launch(runner, tmp_path)
    proc = subprocess.Popen(
        [*launcher, *child],
        stdin=slave, stdout=slave, stderr=slave, start_new_session=True, preexec_fn=controlling_terminal,
    )
    os.close(slave)
    try:
        wait_for(lambda: (tmp_path / "seen.ready").exists(), timeout=30, what="the command to start")
        os.write(master, b"\x03")
        assert proc.wait(timeout=30) == 128 + signal.SIGINT
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert out.read_text(encoding="utf-8") == "SIGINT"


@pytest.mark.parametrize("runner", ["sso-tray exec", "portable"])
def test_a_signal_sent_to_sso_tray_is_passed_on(signed_in, tmp_path, runner):
    out = tmp_path / "seen"
    launcher = launch(runner, tmp_path)
    proc = subprocess.Popen([*launcher, sys.executable, script(tmp_path, "child.py", SIGNALS), str(out)], stdin=subprocess.DEVNULL)
    wait_for(lambda: (tmp_path / "seen.ready").exists(), timeout=30, what="the command to start")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    assert out.read_text(encoding="utf-8") == "SIGTERM"


# --------------------------------------------------------------------------- --server

SERVER_CHILD = """
import json, os, sys, urllib.error, urllib.parse, urllib.request
import boto3

federation = sys.argv[1]
print(json.dumps({
    "uri": os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
    "token": os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
    "static": sorted(k for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN") if k in os.environ),
    "region": os.environ.get("AWS_REGION"),
}), flush=True)
session = boto3.Session()
for line in sys.stdin:  # one read of the credentials per line the test sends
    credentials = session.get_credentials()
    frozen = credentials.get_frozen_credentials()
    # The simulator's federation endpoint accepts only unexpired credentials it issued, all three parts.
    body = urllib.parse.urlencode({"Action": "getSigninToken", "Session": json.dumps(
        {"sessionId": frozen.access_key, "sessionKey": frozen.secret_key, "sessionToken": frozen.token})}).encode()
    try:
        accepted = urllib.request.urlopen(federation, data=body, timeout=10).status == 200
    except urllib.error.HTTPError:
        accepted = False
    left = (credentials._expiry_time - credentials._time_fetcher()).total_seconds()
    print(json.dumps({"key": frozen.access_key, "method": credentials.method, "accepted": accepted, "left": left}), flush=True)
"""


def ask(status, headers: dict) -> int:
    request = urllib.request.Request(status["uri"], headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def test_server_gives_boto3_fresh_credentials_as_they_near_expiry(signed_in, home, tmp_path):
    signed_in.options.credential_lifetime = 700  # inside botocore's 15-minute refresh window from the start
    proc = subprocess.Popen(
        [*TRAY, "exec", "dev-admin", "--server", "--", sys.executable, script(tmp_path, "child.py", SERVER_CHILD),
         signed_in.url + "/federation"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        status = json.loads(proc.stdout.readline())
        assert status["static"] == [] and status["region"] == "eu-west-1"
        assert status["uri"].startswith("http://127.0.0.1:")

        def read() -> dict:
            proc.stdin.write("read\n")
            proc.stdin.flush()
            return json.loads(proc.stdout.readline())

        near = [read() for _ in range(3)]
        assert all(r["method"] == "container-role" and r["accepted"] for r in near)
        assert len({r["key"] for r in near}) == 3  # every read inside the window brought new credentials
        assert all(r["left"] <= 700 for r in near)

        signed_in.options.credential_lifetime = 3600  # the session can give better now
        fresh = [read() for _ in range(4)]
        assert all(r["accepted"] for r in fresh)
        assert len({r["key"] for r in fresh}) == 1 and fresh[0]["key"] not in {r["key"] for r in near}
        assert fresh[0]["left"] > 15 * 60
        calls = signed_in.calls()["GetRoleCredentials"]
        assert read()["key"] == fresh[0]["key"] and signed_in.calls()["GetRoleCredentials"] == calls

        # Without the token, with a wrong one, or under another host name: refused, nothing else.
        assert ask(status, {}) == 401
        assert ask(status, {"Authorization": "wrong"}) == 403
        assert ask(status, {"Authorization": status["token"], "Host": "evil.example:80"}) == 403
        assert ask(status, {"Authorization": status["token"]}) == 200
    finally:
        proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    stderr = proc.stderr.read()
    creds = cached_credentials(home)
    assert creds["SecretAccessKey"] not in stderr and creds["SessionToken"] not in stderr
    # The endpoint lives as long as the command.
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(status["uri"], timeout=5)


def test_server_warns_when_a_default_profile_would_win(signed_in, home):
    code = "import boto3; print(boto3.Session().get_credentials().method)"
    clean = run_cli("exec", "dev-admin", "--server", "--", sys.executable, "-c", code)
    assert clean.stdout.strip() == "container-role" and "warning" not in clean.stderr
    (home / ".aws" / "credentials").write_text("[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = s\n", encoding="utf-8")
    shadowed = run_cli("exec", "dev-admin", "--server", "--", sys.executable, "-c", code)
    assert shadowed.stdout.strip() == "shared-credentials-file"  # what the warning is about
    assert shadowed.returncode == 0 and "warning: the [default] profile" in shadowed.stderr


def test_server_hands_out_the_last_credentials_while_the_session_cannot_give_better():
    from datetime import datetime, timedelta, timezone

    from tray.core.credentials import RoleCredentials
    from tray.core.errors import NotSignedIn
    from tray.core.outlets.execrun import CredentialServer

    now = [datetime.now(timezone.utc)]
    last = RoleCredentials("ASIALAST", "secret", "token", now[0] + timedelta(minutes=12))
    given = iter([last])

    def credentials():
        for creds in given:
            return creds
        raise NotSignedIn("the session has expired: run sso-tray login")

    def fetch(server) -> tuple[int, dict]:
        request = urllib.request.Request(server.url, headers={"Authorization": server.token})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    with CredentialServer(credentials, clock=lambda: now[0]) as server:
        assert fetch(server) == (200, {"AccessKeyId": "ASIALAST", "SecretAccessKey": "secret", "Token": "token",
                                       "Expiration": last.expiration.strftime("%Y-%m-%dT%H:%M:%SZ")})
        assert fetch(server)[1]["AccessKeyId"] == "ASIALAST"  # signed out now: still the best there is
        now[0] += timedelta(minutes=13)
        status, body = fetch(server)
        assert status == 503 and body == {"message": "the session has expired: run sso-tray login"}


SHOW_SOURCE = """
import json, os, boto3
credentials = boto3.Session().get_credentials()
print(json.dumps({"method": credentials.method, "key": credentials.get_frozen_credentials().access_key,
                  "kept": sorted(k for k in os.environ if k in ("AWS_CREDENTIAL_FILE", "BOTO_CONFIG", "AWS_ACCESS_KEY", "AWS_SECRET_KEY"))}))
"""


@pytest.mark.parametrize("outside", ["ec2 key file", "boto config", "java names"])
def test_server_child_loses_the_older_ways_to_other_credentials(signed_in, home, tmp_path, monkeypatch, outside):
    # Each of these is read by an SDK ahead of the container endpoint (botocore: OriginalEC2Provider, BotoProvider).
    (tmp_path / "ec2creds").write_text("AWSAccessKeyId=AKIAEC2FILE\nAWSSecretKey=x\n", encoding="utf-8")
    (tmp_path / "boto.cfg").write_text("[Credentials]\naws_access_key_id = AKIABOTOCONFIG\naws_secret_access_key = x\n", encoding="utf-8")
    variables = {"ec2 key file": {"AWS_CREDENTIAL_FILE": str(tmp_path / "ec2creds")},
                 "boto config": {"BOTO_CONFIG": str(tmp_path / "boto.cfg")},
                 "java names": {"AWS_ACCESS_KEY": "AKIAJAVANAME", "AWS_SECRET_KEY": "x"}}[outside]
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    result = run_cli("exec", "dev-admin", "--server", "--", sys.executable, script(tmp_path, "source.py", SHOW_SOURCE))
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen == {"method": "container-role", "key": seen["key"], "kept": []} and seen["key"].startswith("ASIA")
    assert "warning" not in result.stderr


def test_server_warns_about_aws_login_and_boto_config_credentials(signed_in, home):
    code = "import boto3; print(boto3.Session().get_credentials().method)"
    config = home / ".aws" / "config"
    clean = config.read_text(encoding="utf-8")
    config.write_text(clean + "\n[default]\nlogin_session = arn:aws:iam::123456789012:user/someone\n", encoding="utf-8")
    login = run_cli("exec", "dev-admin", "--server", "--", sys.executable, "-c", "pass")
    assert login.returncode == 0 and f"warning: the [default] profile in {config} has credentials" in login.stderr
    config.write_text(clean, encoding="utf-8")
    (home / ".boto").write_text("[Credentials]\naws_access_key_id = AKIABOTO\naws_secret_access_key = s\n", encoding="utf-8")
    boto = run_cli("exec", "dev-admin", "--server", "--", sys.executable, "-c", code)
    assert boto.stdout.strip() == "boto-config"  # what the warning is about
    assert boto.returncode == 0 and f"warning: the [Credentials] section of {home / '.boto'} has credentials" in boto.stderr
    (home / ".boto").write_text("[Boto]\ndebug = 0\n", encoding="utf-8")  # boto 2 settings without keys: nothing to warn about
    quiet = run_cli("exec", "dev-admin", "--server", "--", sys.executable, "-c", code)
    assert quiet.stdout.strip() == "container-role" and "warning" not in quiet.stderr


def test_server_closes_a_connection_that_stays_silent():
    import socket
    import time
    from datetime import datetime, timedelta, timezone

    from tray.core.credentials import RoleCredentials
    from tray.core.outlets.execrun import CredentialServer

    creds = RoleCredentials("ASIAIDLE", "secret", "token", datetime.now(timezone.utc) + timedelta(hours=1))
    with CredentialServer(lambda: creds) as server:
        idle = socket.create_connection(("127.0.0.1", server.port), timeout=60)
        started = time.monotonic()
        request = urllib.request.Request(server.url, headers={"Authorization": server.token})
        with urllib.request.urlopen(request, timeout=10) as response:  # served while the idle one waits
            assert json.loads(response.read())["AccessKeyId"] == "ASIAIDLE"
        assert idle.recv(1) == b""  # the server hung up: its thread is free again
        waited = time.monotonic() - started
        idle.close()
    assert 5 < waited < 30, waited

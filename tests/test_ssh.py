"""`sso-tray ssh` (issue 21, item 2) against Debian's real openssh-server, started by the test on 127.0.0.1 and a
free port, logging in as a throw-away local user: botocore on the remote side (the system Python, with this
checkout's site-packages) gets credentials from this side, refreshed across an expiry; another user of the
remote machine cannot use the forwarded port without the token; no token on any command line; the token file
is gone after the session, and the token answers 403 once ssh has exited.
"""

from __future__ import annotations

import http.client
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from conftest import free_port, need, run_cli

REMOTE_USER = "ssotray-remote"
SSHD = "/usr/sbin/sshd"
SYSTEM_PYTHON = "/usr/bin/python3"
TRAY = [sys.executable, "-m", "tray"]

REMOTE_CHILD = """
import json, os, stat, sys, urllib.error, urllib.parse, urllib.request
import boto3

federation = sys.argv[1]
token_file = os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
print(json.dumps({
    "uid": os.getuid(),
    "uri": os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
    "token_file": token_file,
    "token_file_mode": stat.S_IMODE(os.stat(token_file).st_mode),
    "token": open(token_file).read(),
    "static": [k for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE") if k in os.environ],
    "region": os.environ.get("AWS_REGION"),
}), flush=True)
session = boto3.Session()
held = []


def accepted(key, secret, token):
    body = urllib.parse.urlencode({"Action": "getSigninToken", "Session": json.dumps(
        {"sessionId": key, "sessionKey": secret, "sessionToken": token})}).encode()
    try:
        return urllib.request.urlopen(federation, data=body, timeout=10).status == 200
    except urllib.error.HTTPError:
        return False


for line in sys.stdin:
    if line.strip() == "old":
        print(json.dumps({"accepted": accepted(*held[0])}), flush=True)
        continue
    credentials = session.get_credentials()
    frozen = credentials.get_frozen_credentials()
    held.append((frozen.access_key, frozen.secret_key, frozen.token))
    print(json.dumps({"key": frozen.access_key, "method": credentials.method, "accepted": accepted(*held[-1])}), flush=True)
"""

PROBE = """
import http.client, json, os, sys, urllib.parse
# the port given, or the session's own (with its token); else the token, if any, comes on stdin
if sys.argv[1] == "session":
    port, token = urllib.parse.urlsplit(os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"]).port, os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
else:
    port, token = int(sys.argv[1]), sys.stdin.read()
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
conn.request("GET", "/role-credentials", headers={"Authorization": token} if token else {})
response = conn.getresponse()
print(json.dumps({"uid": os.getuid(), "status": response.status, "body": response.read().decode()}))
"""


def wait_until(predicate, timeout: float = 30.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return value


@pytest.fixture(scope="module")
def remote_user():
    """A throw-away local user to log in as (created as root, removed afterwards)."""
    need(os.geteuid() == 0, "creating the remote side's user needs root")
    need(Path(SSHD).exists(), "openssh-server is not installed (scripts/bootstrap installs it)")
    need(Path(SYSTEM_PYTHON).exists(), "the remote side runs Debian's python3")
    need(shutil.which("useradd") is not None, "useradd is missing")
    created = False
    try:
        pwd.getpwnam(REMOTE_USER)
    except KeyError:
        # `-p '*'`: no password, but not locked (sshd refuses a locked account even with a key)
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", "--password", "*", REMOTE_USER], check=True)
        created = True
    yield pwd.getpwnam(REMOTE_USER)
    if created:
        subprocess.run(["userdel", "--remove", REMOTE_USER], capture_output=True)


@pytest.fixture
def sshd(remote_user, tmp_path):
    """sshd on 127.0.0.1 and a free port; the ssh options (as a person would give them) that reach it."""
    entry = remote_user
    keys = tmp_path / "keys"
    keys.mkdir()
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / name)], check=True)
    ssh_dir = Path(entry.pw_dir) / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text((keys / "client.pub").read_text(encoding="utf-8"), encoding="utf-8")
    for path in (ssh_dir, ssh_dir / "authorized_keys"):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    (ssh_dir / "authorized_keys").chmod(0o600)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation folder
    port = free_port()
    config = tmp_path / "sshd_config"
    config.write_text(textwrap.dedent(f"""\
        Port {port}
        ListenAddress 127.0.0.1
        HostKey {keys / "host"}
        PidFile {tmp_path / "sshd.pid"}
        UsePAM no
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        AllowUsers {REMOTE_USER}
        """), encoding="utf-8")
    log = open(tmp_path / "sshd.log", "wb")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)

    def listening() -> bool:
        assert proc.poll() is None, (tmp_path / "sshd.log").read_text(encoding="utf-8")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    wait_until(listening, 30, "sshd")
    options = ["-F", os.devnull, "-i", str(keys / "client"), "-p", str(port), "-o", "BatchMode=yes",
               "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
    yield options, f"{REMOTE_USER}@127.0.0.1"
    proc.terminate()
    proc.wait(10)
    log.close()


@pytest.fixture
def readable(tmp_path):
    """A folder the remote user can read (the test's own tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="sso-tray-ssh-test-"))
    folder.chmod(0o755)
    for name, code in (("child.py", REMOTE_CHILD), ("probe.py", PROBE)):
        (folder / name).write_text(textwrap.dedent(code), encoding="utf-8")
        (folder / name).chmod(0o644)
    yield folder
    shutil.rmtree(folder)


@pytest.fixture
def signed_in(sso_env):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    return sso_env


def remote_python(script: Path, *args: str) -> str:
    """The remote command line: Debian's Python with boto3 from this checkout's site-packages."""
    return f"PYTHONPATH={sysconfig.get_paths()['purelib']} {SYSTEM_PYTHON} {script} {' '.join(args)}"


def probe_as(user: str, script: Path, port: int, token: str = "") -> dict:
    result = subprocess.run([SYSTEM_PYTHON, str(script), str(port)], input=token, user=user, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def command_lines() -> list[str]:
    lines = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            lines.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return lines


def test_remote_botocore_gets_fresh_credentials_over_ssh(signed_in, sshd, readable, remote_user):
    options, host = sshd
    signed_in.options.credential_lifetime = 700  # inside botocore's refresh window: every read asks
    proc = subprocess.Popen(
        [*TRAY, "ssh", "dev-admin", *options, host, remote_python(readable / "child.py", signed_in.url + "/federation")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        status = json.loads(line)
        assert status["uid"] == remote_user.pw_uid and status["static"] == [] and status["region"] == "eu-west-1"
        assert status["token_file_mode"] == 0o600 and os.stat(status["token_file"]).st_uid == remote_user.pw_uid
        remote_port = int(status["uri"].split(":")[2].split("/")[0])

        def read() -> dict:
            proc.stdin.write("read\n")
            proc.stdin.flush()
            return json.loads(proc.stdout.readline())

        reads = [read() for _ in range(3)]
        assert all(r["method"] == "container-role" and r["accepted"] for r in reads)
        assert len({r["key"] for r in reads}) == 3  # refreshed on every read inside the window
        signed_in.advance_time(701)  # all of them have expired at AWS now
        proc.stdin.write("old\n")
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline()) == {"accepted": False}
        after = read()
        assert after["accepted"] and after["key"] not in {r["key"] for r in reads}

        # Another user of the remote machine reaches the forwarded port, and nothing more.
        without = probe_as("nobody", readable / "probe.py", remote_port)
        assert without["uid"] != remote_user.pw_uid and without["status"] == 401
        assert probe_as("nobody", readable / "probe.py", remote_port, "guessed")["status"] == 403
        assert probe_as(REMOTE_USER, readable / "probe.py", remote_port, status["token"])["status"] == 200
        # The token is on no command line, on either side.
        assert not [line for line in command_lines() if status["token"] in line]
    finally:
        proc.stdin.close()
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    assert not Path(status["token_file"]).exists()
    with pytest.raises(OSError):  # the forward ended with the connection
        socket.create_connection(("127.0.0.1", remote_port), timeout=5).close()


def test_the_token_answers_403_once_ssh_has_exited(signed_in, sshd, readable):
    from tray.core.identity import rolecreds
    from tray.core.identity.config import AwsConfig
    from tray.core.identity.profiles import resolve
    from tray.core.outlets import remote
    from tray.core.outlets.endpoint import CredentialEndpoint

    options, host = sshd
    profile = resolve(AwsConfig.load(), "dev-admin", None, lambda _s: None)
    with CredentialEndpoint() as endpoint:
        token = endpoint.issue(lambda: rolecreds.get(profile.session, profile.account_id, profile.role_name))
        seen = readable / "seen"
        seen.touch(mode=0o666)
        seen.chmod(0o666)
        check = f"{remote_python(readable / 'probe.py', 'session')} > {seen}; exit 7"
        assert remote.run([*options, host, check], endpoint, token, interactive=False) == 7  # ssh's status, passed on
        assert json.loads(seen.read_text(encoding="utf-8"))["status"] == 200  # it worked while connected

        def answer(headers: dict) -> int:
            conn = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=10)
            conn.request("GET", "/role-credentials", headers={"Host": f"127.0.0.1:{endpoint.port}", **headers})
            return conn.getresponse().status

        assert answer({"Authorization": token}) == 403


@pytest.mark.parametrize("args, message", [
    (["dev-admin"], "name the HOST"),
    (["dev-admin", "-p"], "-p needs a value"),
    (["dev-admin", "-N", "host"], "-N cannot be used"),
    (["dev-admin", "-vS", "/tmp/x", "host"], "-S cannot be used"),
    (["dev-admin", "-Z", "host"], "no option -Z"),
])
def test_bad_usage_is_one_line_before_any_connection(sso_env, args, message):
    result = run_cli("ssh", *args)
    assert result.returncode == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_signed_out_fails_before_connecting(sso_env):
    result = run_cli("ssh", "dev-admin", "-p", "1", "127.0.0.1")
    assert result.returncode == 3 and "login" in result.stderr

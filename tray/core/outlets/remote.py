"""`sso-tray ssh`: a remote shell or command whose AWS SDKs get fresh credentials from this machine (SPEC §9).

The system `ssh` does the connecting, with every option the person gives it; sso-tray adds a credentials
endpoint (tray.core.outlets.endpoint) that lives as long as the connection, and a reverse forward from the
remote machine's 127.0.0.1 to it. The remote side then gets the container variables, so every SDK there
asks this machine, which answers with the profile's credentials, renewed as they near expiry.

Nothing secret goes on a command line, on either machine (where any user can read it with `ps`):
1. A master connection (`-M`, its control socket in a 0700 folder of ours) authenticates once, prompting on
   the terminal as ssh always does. Everything after goes through it: one sign-in, one TCP connection.
2. `-O forward -R 127.0.0.1:0:127.0.0.1:PORT`: the remote sshd binds a free port on its loopback (never
   another interface: the address is explicit) and tells us which.
3. The token travels on ssh's stdin into a file that `mktemp` creates with mode 0600 on the remote side.
4. The session runs the person's command (or login shell) with `AWS_CONTAINER_CREDENTIALS_FULL_URI` pointing
   at the forwarded port and `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (and, for SDKs older than that
   variable, `AWS_CONTAINER_AUTHORIZATION_TOKEN`, read from the file into the environment, never into an
   argument); the variables that would win over them are removed. The file is removed when the session
   ends, hung up or not.
5. When ssh exits the token is revoked, the file removed again (if the connection still stands) and the
   master stopped, which closes the forward.
Another user of the remote machine can reach the forwarded port (it is loopback, not private), but without
the token gets 401/403 and nothing else. Multiplexing needs OpenSSH on a POSIX system (Linux, macOS, WSL);
Windows' own OpenSSH has no control sockets.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tempfile
import time

from tray.core.errors import AwsError, UsageError
from tray.core.outlets.endpoint import CredentialEndpoint
from tray.core.outlets.exports import OVERRIDING

# OpenSSH 9's options that take a value, and those that do not (ssh(1)'s synopsis).
VALUE_OPTIONS = frozenset("BbcDEeFIiJLlmOoPpQRSWw")
FLAG_OPTIONS = frozenset("46AaCfGgKkMNnqsTtVvXxYy")
# What sso-tray does itself, or what leaves no session to set the variables in.
REFUSED = {
    "M": "sso-tray runs its own master connection",
    "S": "sso-tray runs its own master connection",
    "O": "sso-tray runs its own master connection",
    "N": "there would be no remote command to give the credentials to",
    "f": "sso-tray must see the session end to revoke its token",
    "W": "a stdio forward has no remote command to give the credentials to",
    "s": "a subsystem has no remote command to give the credentials to",
}
_REMOTE_PATH = re.compile(r"/[A-Za-z0-9._/-]+")
_REGION = re.compile(r"[a-z0-9-]+")
CONTROL_WAIT = 0.05  # seconds between looks for the master's control socket


def split_arguments(args: list[str]) -> tuple[list[str], set[str], str, list[str]]:
    """`[SSH_OPTION...] HOST [CMD...]` as ssh reads them: (options, the option letters given, host, command)."""
    options: list[str] = []
    letters: set[str] = set()
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        options.append(arg)
        for j, letter in enumerate(arg[1:], 1):
            letters.add(letter)
            if letter in REFUSED:
                raise UsageError(f"ssh's -{letter} cannot be used with sso-tray ssh: {REFUSED[letter]}")
            if letter in VALUE_OPTIONS:
                if j == len(arg) - 1:  # the value is the next argument
                    if i + 1 >= len(args):
                        raise UsageError(f"ssh's -{letter} needs a value")
                    i += 1
                    options.append(args[i])
                break
            if letter not in FLAG_OPTIONS:
                raise UsageError(f"ssh has no option -{letter}")
        i += 1
    if i >= len(args):
        raise UsageError("name the HOST to connect to: sso-tray ssh PROFILE [SSH_OPTION...] HOST [CMD...]")
    return options, letters, args[i], args[i + 1:]


def session_script(port: int, token_file: str, region: str | None) -> str:
    """The remote `sh` program around the person's command ($1, run by their login shell) or login shell.
    One line without a single quote, so that any login shell (sh, bash, zsh, fish, csh) passes it on as is."""
    url = f"http://127.0.0.1:{port}/role-credentials"
    cleared = [name for name in OVERRIDING if name not in (
        "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")]
    steps = [
        f"f={token_file}",
        'trap "rm -f $f" EXIT',
        'trap "exit 129" HUP',  # a dropped connection: exit, so that the EXIT trap removes the file
        'trap "exit 143" TERM',
        "unset " + " ".join(cleared),
        f"export AWS_CONTAINER_CREDENTIALS_FULL_URI={url} AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=$f",
        'AWS_CONTAINER_AUTHORIZATION_TOKEN="$(cat $f)"',
        "export AWS_CONTAINER_AUTHORIZATION_TOKEN",
    ]
    if region and _REGION.fullmatch(region):
        steps.append(f"export AWS_REGION={region} AWS_DEFAULT_REGION={region}")
    steps.append('if [ $# -gt 0 ]; then "${SHELL:-/bin/sh}" -c "$1"; else "${SHELL:-/bin/sh}" -l; fi')
    return "; ".join(steps)


class Connection:
    """One master connection to `host` and what goes through it."""

    def __init__(self, ssh: str, options: list[str], host: str, folder: str) -> None:
        self.ssh, self.options, self.host = ssh, options, host
        self.control = os.path.join(folder, "control")
        self.master: subprocess.Popen | None = None

    def _client(self, *extra: str) -> list[str]:
        # The person's forwards (-L/-R/-D, or in their config) are the master's: a client would ask again. A
        # ControlMaster or RemoteCommand in their config would make it another master, or refuse our command.
        return [self.ssh, "-S", self.control, "-o", "ClearAllForwardings=yes", "-o", "ControlMaster=no",
                "-o", "RemoteCommand=none", *extra, self.host]

    def open(self) -> None:
        """Connect and authenticate (prompting on the terminal, as ssh does); AwsError if ssh gives up."""
        argv = [self.ssh, *self.options, "-M", "-S", self.control, "-N", "-n",
                "-o", "ControlPersist=no", "-o", "ExitOnForwardFailure=yes", self.host]
        try:
            self.master = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        except OSError as e:
            raise AwsError(f"cannot run {self.ssh} ({e.strerror or type(e).__name__}): install OpenSSH's client") from None
        while not os.path.exists(self.control):  # it appears once the master is signed in
            if self.master.poll() is not None:
                raise AwsError(f"ssh could not connect to {self.host} (exit status {self.master.returncode})")
            time.sleep(CONTROL_WAIT)

    def forward(self, local_port: int) -> int:
        """A port on the remote side's 127.0.0.1 that leads to `local_port` here."""
        argv = [self.ssh, "-S", self.control, "-F", os.devnull, "-O", "forward", "-R", f"127.0.0.1:0:127.0.0.1:{local_port}", self.host]
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        port = result.stdout.strip()
        if result.returncode != 0 or not port.isdigit():
            raise AwsError(f"{self.host} refused the reverse forward (is AllowTcpForwarding off in its sshd_config?): {result.stderr.strip()}")
        return int(port)

    def put_token(self, token: str) -> str:
        """The remote path of a new 0600 file holding `token`, which came on ssh's stdin."""
        script = 'umask 077 && f=$(mktemp "${TMPDIR:-/tmp}/sso-tray.XXXXXXXXXX") && cat > "$f" && echo "$f"'
        result = subprocess.run(self._client("-T", "-o", "LogLevel=ERROR") + [f"sh -c '{script}'"],
                                input=token, capture_output=True, text=True)
        path = result.stdout.strip()
        if result.returncode != 0 or not _REMOTE_PATH.fullmatch(path):
            raise AwsError(f"could not create the token file on {self.host}: {result.stderr.strip() or 'no sh or mktemp there'}")
        return path

    def session(self, script: str, command: list[str], tty: bool) -> int:
        """The person's session: its exit status, as ssh gives it."""
        remote = f"sh -c '{script}' sso-tray-ssh" + (f" {shlex.quote(' '.join(command))}" if command else "")
        return subprocess.run(self._client(*(["-t"] if tty else [])) + [remote]).returncode

    def close(self, token_file: str | None) -> None:
        if self.master is None:
            return
        if self.master.poll() is None:
            if token_file:  # removed by the session already, unless it was killed where no trap runs
                subprocess.run(self._client("-T", "-o", "LogLevel=ERROR") + [f"rm -f {token_file}"],
                               stdin=subprocess.DEVNULL, capture_output=True)
            subprocess.run([self.ssh, "-S", self.control, "-o", "LogLevel=ERROR", "-O", "exit", self.host],
                           stdin=subprocess.DEVNULL, capture_output=True)
        try:
            self.master.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.master.kill()
            self.master.wait()


def run(ssh_args: list[str], endpoint: CredentialEndpoint, token: str, region: str | None = None,
        ssh: str = "ssh", interactive: bool | None = None) -> int:
    """ssh to the host in `ssh_args`, its session reaching `endpoint` with `token`; the token is revoked when
    ssh exits. `interactive` (default: whether stdin is a terminal) asks for a terminal on the remote side
    when no command is given, as plain ssh does."""
    options, letters, host, command = split_arguments(ssh_args)
    if interactive is None:
        interactive = os.isatty(0)
    # The person's options go to the master; the terminal is the session's, asked for as plain ssh would.
    tty = "t" in letters or (not command and interactive and "T" not in letters)
    with tempfile.TemporaryDirectory(prefix="sso-tray-ssh-") as folder:  # 0700: the control socket is ours alone
        connection = Connection(ssh, options, host, folder)
        token_file = None
        try:
            connection.open()
            port = connection.forward(endpoint.port)
            endpoint.add_host(f"127.0.0.1:{port}")
            token_file = connection.put_token(token)
            return connection.session(session_script(port, token_file, region), command, tty)
        finally:
            endpoint.revoke(token)
            connection.close(token_file)

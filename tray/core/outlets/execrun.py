"""`exec`: run a command with a role's credentials, pass signals to it, exit with its status (SPEC §9).

Static mode puts the credentials and region into the command's environment. `--server` mode puts none
there: a credentials endpoint on 127.0.0.1 speaks the container credentials protocol every AWS SDK
reads (`AWS_CONTAINER_CREDENTIALS_FULL_URI` plus a random `AWS_CONTAINER_AUTHORIZATION_TOKEN`), and
hands out fresh credentials whenever the SDK asks, which botocore does inside 15 minutes of expiry.

Variables that would win over the ones set here are removed: botocore reads environment keys first,
then the profile named by `AWS_PROFILE`, and the container endpoint only after both
(../shared/TESTING.md). `SSO_TRAY_PROFILE` marks the environment, as aws-vault's `AWS_VAULT` does,
so that an `exec` inside another one for a different profile is refused unless forced.

The command is started with `subprocess` (no fork of this process, so the same code runs on Windows)
and stays in this process group, so a Ctrl-C at the terminal reaches it directly. On Linux the
signals to forward are taken with `sigtimedwait`, which tells who sent them: one the kernel sent to the
whole foreground group (the terminal's Ctrl-C, Ctrl-\\, hang-up) has reached the command already and is
not sent twice; one sent to sso-tray alone (`kill PID`) is passed on. Elsewhere a Ctrl-C is taken to
have reached the command when sso-tray is in the terminal's foreground group, and the rest is passed on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from datetime import datetime

from tray.core.credentials import RoleCredentials, format_time, utcnow
from tray.core.errors import TrayError, UsageError
from tray.core.outlets.endpoint import CredentialEndpoint
from tray.core.outlets.exports import CREDENTIAL_VARIABLES, OVERRIDING

MARKER = "SSO_TRAY_PROFILE"
SI_KERNEL = 0x80  # Linux si_code: sent by the kernel (a terminal's Ctrl-C goes to the whole foreground group)


class CommandFailed(TrayError):
    """The command could not be started: 127 when it is not found, 126 when it cannot run, as a shell says."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def check_nesting(profile_name: str, force: bool, environ: Mapping[str, str] | None = None) -> None:
    """Refuse to run inside another `sso-tray exec` for a different profile (unless forced)."""
    inside = (os.environ if environ is None else environ).get(MARKER)
    if inside and inside != profile_name and not force:
        raise UsageError(f"already inside `sso-tray exec {inside}`: exit it first, or add --force to run {profile_name} inside it")


def child_environment(base: Mapping[str, str], profile_name: str, region: str | None, variables: Mapping[str, str]) -> dict[str, str]:
    """`base` without the variables that would override `variables`, plus those, the region and the marker."""
    env = {k: v for k, v in base.items() if k not in OVERRIDING}
    env.update(variables)
    if region:
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = region
    env[MARKER] = profile_name
    return env


def interactive_shell() -> str:
    """The person's shell, for `exec PROFILE` with no command: $SHELL, else %COMSPEC% on Windows, else sh."""
    if os.name == "nt":
        return os.environ.get("COMSPEC") or "cmd.exe"
    return os.environ.get("SHELL") or "/bin/sh"


def static_variables(creds: RoleCredentials) -> dict[str, str]:
    return dict(zip(CREDENTIAL_VARIABLES, (creds.access_key_id, creds.secret_access_key, creds.session_token, format_time(creds.expiration))))


# Keys that make botocore's providers ahead of the container one (shared credentials file, config file,
# assume-role, web identity, SSO, `aws login`, credential_process) answer for the [default] profile.
_DEFAULT_PROFILE_KEYS = (
    "aws_access_key_id", "role_arn", "web_identity_token_file", "sso_session", "sso_start_url", "sso_account_id",
    "login_session", "credential_process",
)
# boto 2's config files, which botocore's BotoProvider reads after the profiles and before the container
# endpoint, in its order (BOTO_CONFIG, which would replace them, is removed from the command's environment).
BOTO_CONFIG_FILES = ("/etc/boto.cfg", "~/.boto")


def shadowing_credentials() -> str | None:
    """Where an SDK in an `exec --server` command finds credentials before asking the endpoint, said for a
    warning (`the [default] profile in FILE`), or None. The command's environment names no profile, so
    [default] is used; boto 2's `[Credentials]` comes after the profiles, still ahead of the endpoint."""
    from pathlib import Path

    from tray.core.files import inifile, paths
    from tray.core.files.configwrite import section_key

    credentials = inifile.read_sections(inifile.read_text(paths.credentials_file())).get("default") or {}
    if "aws_access_key_id" in credentials:
        return f"the [default] profile in {paths.credentials_file()}"
    config = inifile.read_sections(inifile.read_text(paths.aws_config_file()), key=section_key).get("profile default") or {}
    if any(k in config for k in _DEFAULT_PROFILE_KEYS):
        return f"the [default] profile in {paths.aws_config_file()}"
    for name in BOTO_CONFIG_FILES:
        path = Path(os.path.expanduser(name))
        try:
            boto = inifile.read_sections(inifile.read_text(path)).get("Credentials") or {}
        except TrayError:  # unreadable: botocore's parser passes over it as well
            continue
        if "aws_access_key_id" in boto:  # what BotoProvider takes the section by
            return f"the [Credentials] section of {path}"
    return None


def exit_status(returncode: int) -> int:
    """The command's status as a shell gives it: 128+N for a command killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


# --------------------------------------------------------------------------- running the command


def _forwarded() -> tuple[signal.Signals, ...]:
    names = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGBREAK")
    return tuple(getattr(signal, n) for n in names if hasattr(signal, n))


def _block_forwarded_signals() -> None:
    """For threads of this module: signals are the main thread's to take (see `_run_linux`)."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, set(_forwarded()) | {signal.SIGCHLD})


def _spawn(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    try:
        return subprocess.Popen(argv, env=env)
    except FileNotFoundError:
        raise CommandFailed(f"{argv[0]}: command not found", 127) from None
    except PermissionError:
        raise CommandFailed(f"{argv[0]}: permission denied", 126) from None
    except OSError as e:
        raise CommandFailed(f"{argv[0]}: cannot run it ({e.strerror or type(e).__name__})", 126) from None


def run(argv: list[str], env: dict[str, str]) -> int:
    """Run `argv` with `env`, passing signals on, and return its exit status."""
    if hasattr(signal, "sigtimedwait") and hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread():
        return _run_linux(argv, env)
    return _run_portable(argv, env)


def _run_linux(argv: list[str], env: dict[str, str]) -> int:
    forwarded = set(_forwarded())
    waited = forwarded | {signal.SIGCHLD}
    early: list[int] = []  # signals that came before the mask was set, or to another thread
    previous = {s: signal.signal(s, lambda n, _frame: early.append(n)) for s in forwarded}
    try:
        # The command must not inherit a blocked mask, so it starts first and the mask is set after.
        proc = _spawn(argv, env)
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, waited)
        try:
            while proc.poll() is None:
                while early:
                    proc.send_signal(early.pop(0))
                info = signal.sigtimedwait(waited, 1.0)
                if info is None or info.si_signo == signal.SIGCHLD:
                    continue
                if info.si_code != SI_KERNEL:
                    proc.send_signal(info.si_signo)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    finally:
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)
    return exit_status(proc.returncode)


def _terminal_sent_it(signum: int) -> bool:
    """Whether a Ctrl-C (or Ctrl-\\) has reached the command already: a Windows console gives it to every
    process on it, a POSIX terminal to its foreground process group, which the command shares with us."""
    if signum not in (signal.SIGINT, getattr(signal, "SIGQUIT", None), getattr(signal, "SIGBREAK", None)):
        return False
    if os.name == "nt":
        return True  # Ctrl-C and Ctrl-Break alike
    try:
        return os.tcgetpgrp(0) == os.getpgrp()
    except OSError:  # no terminal: the signal was sent to sso-tray alone
        return False


def _run_portable(argv: list[str], env: dict[str, str]) -> int:
    """Where no `sigtimedwait` tells who sent a signal (macOS, Windows): a Ctrl-C at a terminal is assumed to
    have reached the command, anything else is passed on."""
    proc: subprocess.Popen | None = None

    def forward(signum: int, _frame) -> None:
        if proc is not None and proc.poll() is None and not _terminal_sent_it(signum):
            try:
                proc.send_signal(signum)
            except (OSError, ValueError):  # gone meanwhile, or (Windows) a signal it cannot be sent
                pass

    installed = {}
    for s in _forwarded():
        try:
            installed[s] = signal.signal(s, forward)
        except (OSError, ValueError):  # not the main thread, or not a signal this platform lets us catch
            continue
    try:
        proc = _spawn(argv, env)
        return exit_status(proc.wait())
    finally:
        for s, handler in installed.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)


# --------------------------------------------------------------------------- the credentials endpoint


class CredentialServer(CredentialEndpoint):
    """`exec --server`'s endpoint: one token, for the life of the command.

    `credentials()` gives the role's credentials with more than 15 minutes left when the session can
    (`rolecreds.get`); if it fails, even because the session was signed out, the last ones are handed out
    while they have not expired: the command was started with them."""

    def __init__(self, credentials: Callable[[], RoleCredentials], clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__(clock)
        self.token = self.issue(credentials, keep_when_signed_out=True)

    def variables(self) -> dict[str, str]:  # noqa: D102 - the one token's
        return super().variables(self.token)

    def _serve(self) -> None:
        _block_forwarded_signals()
        super()._serve()

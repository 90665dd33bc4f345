"""The command line's parser: every command's flags, built for the one command given (SPEC §3).

Each command names its function as "module.function" in tray.cli, imported only when that command runs, so a
cached `export` loads the export path alone."""

from __future__ import annotations

import argparse

from tray import __version__
from tray.core.errors import UsageError


class _Parser(argparse.ArgumentParser):
    """Bad usage is one line on stderr and exit 2, like every other error."""

    def error(self, message: str):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def duration(text: str):
    """`2h`, `1h30m`, `90m`, `45s`, `1d`, or plain seconds: a timedelta (an argparse type)."""
    import re
    from datetime import timedelta

    value = text.strip().lower()
    if value.isdigit():
        return timedelta(seconds=int(value))
    parts = re.fullmatch(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", value)
    if not value or parts is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (for example 2h, 1h30m, 90m, 45s)")
    return timedelta(seconds=sum(int(n or 0) * unit for n, unit in zip(parts.groups(), _UNITS.values())))


def _no_duration(_text: str):
    """`--duration`, as aws-vault and granted take it: SSO role credentials cannot be asked for a lifetime."""
    raise argparse.ArgumentTypeError(
        "SSO role credentials last as long as the permission set's session duration in IAM Identity Center;"
        " no tool can ask for more or less (sso-tray renews them instead: exec --server, or keep fresh)"
    )


# PROFILE of the commands that open a picker on a terminal when it is left out (tray.cli.picker)
_PICKED = {"nargs": "?", "metavar": "PROFILE",
           "help": "a profile name, ACCOUNT_NAME/ROLE_NAME or ACCOUNT_ID/ROLE_NAME (left out on a terminal: pick one)"}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command or, given a command's name, of that command alone (building the other
    ten is a measurable part of a cached `export`). Usage errors and --help read the same either way."""
    parser = _Parser(prog="sso-tray", description="AWS IAM Identity Center (AWS SSO) in your system tray and terminal.")
    parser.add_argument("--version", action="version", version=f"sso-tray {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, func: str, help: str, **kwargs) -> argparse.ArgumentParser | None:
        if command not in (None, name):
            return None
        p = sub.add_parser(name, help=help, **kwargs)
        p.set_defaults(func=func)
        return p

    add("run", "desktop.cmd_run", "start the tray (the default)")

    if p := add("demo", "desktop.cmd_demo", "the tray on a built-in Identity Center simulator and a throw-away HOME"):
        p.add_argument("--accounts", type=int, default=25, metavar="N", help="how many accounts the simulator has (default 25)")
        p.add_argument("--no-tray", action="store_true", help="sign in and print the status, without starting the tray")

    if p := add("login", "session.cmd_login", "sign in to an SSO session (browser, PKCE; or --device-code)"):
        group = p.add_mutually_exclusive_group()
        group.add_argument("--sso-session", metavar="NAME", help="the [sso-session NAME] to sign in to")
        group.add_argument("--profile", metavar="P", help="sign in to the session this profile uses (or, for an `aws login` profile, as `aws login` does)")
        p.add_argument("--device-code", action="store_true", help="use the device authorization flow")
        p.add_argument("--remote", action="store_true", help="`aws login` profiles: sign in on another device and paste the code it shows")
        p.add_argument("--no-browser", action="store_true", help="print the sign-in URL instead of opening a browser")
        p.add_argument("--timeout", type=float, default=600, metavar="SECONDS", help="give up after this long (default 600)")
        p.add_argument("--if-needed", action="store_true", help="sign in only when the session will not last (renewing it silently when it can)")
        p.add_argument("--min-remaining", type=duration, metavar="D", help="with --if-needed: the session must last this long (2h, 90m, 45s)")

    if p := add("logout", "session.cmd_logout", "sign out: call Logout and remove the cached token"):
        group = p.add_mutually_exclusive_group()
        group.add_argument("--sso-session", metavar="NAME", help="only this session (default: all SSO sessions)")
        group.add_argument("--profile", metavar="P", help="the session of this profile (an `aws login` profile: its cached login)")

    if p := add("status", "session.cmd_status", "each session's status and time left (exit 3 if any is not signed in, or will not last --min-remaining)"):
        p.add_argument("target", nargs="?", metavar="SESSION|PROFILE", help="only this SSO session, or the session of this profile")
        p.add_argument("--json", action="store_true", help="a JSON object: {\"sessions\": [...]} (with --min-remaining also ok and reason)")
        p.add_argument("--min-remaining", type=duration, metavar="D", help="exit 3 unless the session lasts this long (2h, 90m, 45s); one that renews itself lasts")

    if p := add("profiles", "roles.cmd_profiles", "configured profiles and every account/role of the signed-in sessions"):
        p.add_argument("--json", action="store_true", help="a JSON object: {\"profiles\": [...], \"sessions\": [...]}")
        p.add_argument("--refresh", action="store_true", help="list the accounts and roles again instead of using the cache")
        p.add_argument("--sso-session", metavar="NAME", help="only this session")

    if p := add("export", "roles.cmd_export", "print (or --copy) the shell lines that set a profile's credentials"):
        p.add_argument("profile", **_PICKED)
        p.add_argument("--format", metavar="F", help="bash (default on POSIX), zsh, sh, fish, powershell, cmd, dotenv or json")
        p.add_argument("--copy", action="store_true", help="put the lines on the clipboard instead of printing them")
        p.add_argument("--refreshing", action="store_true", help="lines that point SDKs at the running tray's credentials endpoint: never stale while the tray runs")
        p.add_argument("--sso-session", metavar="NAME", help="the session to use where several are configured")
        p.add_argument("--duration", type=_no_duration, help=argparse.SUPPRESS)

    if p := add("write", "roles.cmd_write", "write a profile's credentials to the shared credentials file"):
        p.add_argument("profile", **_PICKED)
        p.add_argument("--as", dest="as_name", metavar="NAME", help="the section name to write (default: the configured profile's name, else ACCOUNT_NAME.ROLE_NAME)")
        p.add_argument("--sso-session", metavar="NAME")

    if p := add("credential-process", "roles.cmd_credential_process", "credentials as a credential_process program prints them"):
        p.add_argument("profile", metavar="PROFILE")
        p.add_argument("--sso-session", metavar="NAME")

    if p := add("console", "roles.cmd_console", "open the AWS console signed in as a role (or --print the link)"):
        p.add_argument("profile", **_PICKED)
        p.add_argument("--print", action="store_true", help="print the sign-in link instead of opening it (it is a bearer credential)")
        p.add_argument("--destination", metavar="URL", help="the console page to open (default: the console home of the region)")
        p.add_argument("--region", metavar="R", help="the console's region (default: the profile's, else the SSO session's)")
        p.add_argument("--service", metavar="NAME", help="open this service's page (s3, ec2, cloudwatch…) instead of the console home")
        p.add_argument("--sso-session", metavar="NAME")

    if p := add("exec", "roles.cmd_exec", "run a command with a role's credentials (-- CMD [ARG...]; no command: your shell)",
                usage="sso-tray exec [PROFILE] [--server] [--force] [--sso-session NAME] [-- CMD [ARG...]]"):
        p.add_argument("profile", **_PICKED)
        p.add_argument("--server", action="store_true", help="serve the credentials on 127.0.0.1 (container credentials protocol) instead of putting keys in the environment")
        p.add_argument("--force", action="store_true", help="run even inside another `sso-tray exec` for a different profile")
        p.add_argument("--duration", type=_no_duration, help=argparse.SUPPRESS)
        p.add_argument("--sso-session", metavar="NAME")

    if p := add("configure", "setup.cmd_configure", "add an [sso-session] to the AWS config and sign in; `configure profiles`: a profile for every role",
                usage="sso-tray configure --start-url URL [--region R] [--name NAME] [--no-login]\n"
                      "       sso-tray configure profiles [--sso-session NAME] [--name-format FMT] [--region R] [--dry-run] [--prune]"):
        p.add_argument("what", nargs="?", choices=("profiles",), help="profiles: write a [profile] for every account/role of the session")
        p.add_argument("--start-url", metavar="URL", help="the AWS access portal URL, e.g. https://example.awsapps.com/start")
        p.add_argument("--region", metavar="R", help="the Identity Center region (default: from the start URL; for profiles: the region the profiles get)")
        p.add_argument("--name", metavar="NAME", help="the session's name (default: the start URL's subdomain)")
        p.add_argument("--no-login", action="store_true", help="write the session without signing in")
        p.add_argument("--sso-session", metavar="NAME", help="profiles: the session whose roles to write")
        p.add_argument("--name-format", metavar="FMT", help="profiles: the profile names, from {account_name}, {account_id}, {role_name}, {sso_session} (default {account_name}.{role_name})")
        p.add_argument("--dry-run", action="store_true", help="profiles: say what would change, write nothing")
        p.add_argument("--prune", action="store_true", help="profiles: remove the profiles sso-tray wrote whose role is gone")

    if p := add("completion", "setup.cmd_completion", "a completion script for bash, zsh or fish (profile names included)"):
        p.add_argument("shell", choices=("bash", "zsh", "fish"))

    if p := add("autostart", "setup.cmd_autostart", "start the tray at login: on, off, or status"):
        p.add_argument("action", choices=("on", "off", "status"))

    if p := add("find", "desktop.cmd_find", "open the running tray's role finder page in the browser"):
        p.add_argument("text", nargs="?", metavar="TEXT", help="put TEXT in the search box")
        p.add_argument("--print-url", action="store_true", help="print the page's URL instead of opening it")

    if p := add("ssh", "remote.cmd_ssh", "ssh to HOST; SDKs there get the profile's credentials, served back over the connection",
                usage="sso-tray ssh [--sso-session NAME] PROFILE [SSH_OPTION...] HOST [CMD...]"):
        p.add_argument("--sso-session", metavar="NAME")
        p.add_argument("profile", metavar="PROFILE")
        p.add_argument("ssh_args", nargs=argparse.REMAINDER, metavar="[SSH_OPTION...] HOST [CMD...]",
                       help="what ssh takes: its options, the host, and the remote command (default: your login shell there)")

    add("prompt", "prompt.cmd_prompt", "a short segment for the shell prompt (`dev 2h13m`), from the files alone")

    if p := add("simulator", "desktop.cmd_simulator", "run the built-in Identity Center simulator (see sso-tray simulator --help)", add_help=False):
        p.add_argument("simulator_args", nargs=argparse.REMAINDER)

    if not sub.choices:  # `command` names no command: build them all, so that the usage error lists them
        everything = build_parser()
        if command and not command.startswith("-"):
            from tray.core.naming import did_you_mean

            names = next(a for a in everything._actions if isinstance(a, argparse._SubParsersAction)).choices
            raise UsageError(f"no command {command!r}{did_you_mean(command, names)}; the commands: {', '.join(names)}")
        return everything
    return parser

"""The command line: parse flags, call one plain function of tray.core, print, exit with SPEC §3's codes.

Kept light on purpose: nothing here imports boto3; the engine loads it only when a command calls AWS.
An `export` answered from the cache is over in a few tens of milliseconds, most of them imports, so
what it loads (config, profiles, credentials, settings, exports) keeps its records in namedtuples and
plain classes: importing dataclasses (and inspect with it) would add a tenth to its time, and
typing.NamedTuple about half as much.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from tray import __version__
from tray.core.errors import TrayError, UsageError


def _print_err(message: str) -> None:
    print(f"sso-tray: {message}", file=sys.stderr, flush=True)


# --- commands ------------------------------------------------------------------------------------


def _sign_in(session, device_code: bool = False, open_browser: bool = True, timeout: float = 600.0) -> None:
    from tray.core.engine.state import clock_time, describe_left
    from tray.core.identity.signin import SignInOptions, login
    from tray.core.credentials import utcnow

    options = SignInOptions(
        device_code=device_code,
        open_browser=open_browser,
        timeout=timeout,
        prompt=lambda message: print(message, file=sys.stderr, flush=True),
    )
    token = login(session, options)
    print(f"Signed in to {session.name}: {describe_left(token.remaining(utcnow()))} left, until {clock_time(token.expires_at)}.")


def cmd_login(args) -> int:
    from tray.core.identity.config import AwsConfig

    config = AwsConfig.load()
    session = config.profile(args.profile).session if args.profile else config.session(args.sso_session)
    _sign_in(session, args.device_code, not args.no_browser, args.timeout)
    return 0


def cmd_logout(args) -> int:
    from tray.core.identity import rolecreds
    from tray.core.identity.config import AwsConfig
    from tray.core.identity.signin import logout

    config = AwsConfig.load()
    sessions = [config.session(args.sso_session)] if args.sso_session or len(config.sessions) == 1 else list(config.sessions.values())
    for session in sessions:
        removed = logout(session)
        print(f"Signed out of {session.name}." if removed else f"{session.name} was not signed in.")
    # as `aws sso logout` does: cached SSO role credentials go too, they are what signing out is for
    rolecreds.forget_all()
    return 0


def cmd_status(args) -> int:
    from tray.core.identity.config import AwsConfig
    from tray.core.identity.sessions import VALID, session_status
    from tray.core.engine.state import clock_time, describe_left
    from tray.core.credentials import utcnow

    config = AwsConfig.load()
    if not config.sessions:
        raise UsageError(f"{config.path}: no SSO session is configured ([sso-session NAME] or a profile with sso_start_url)")
    now = utcnow()
    statuses = [session_status(s, now)[0] for s in config.sessions.values()]
    if args.json:
        print(json.dumps({"sessions": [s.to_json(now) for s in statuses]}, indent=2))
    else:
        for s in statuses:
            if s.state == VALID:
                line = f"{s.session.name} — {describe_left(s.expires_at - now)} left, until {clock_time(s.expires_at)}"
                if s.refreshable:
                    line += " (renews itself)"
            elif s.expires_at is not None:
                line = f"{s.session.name} — expired at {clock_time(s.expires_at)}"
            else:
                line = f"{s.session.name} — signed out"
            print(line)
            if s.problem:
                print(f"  {s.problem}")
    not_valid = [s for s in statuses if s.state != VALID]
    if not_valid:
        _print_err("not signed in: " + "; ".join(f"{s.session.name}: {s.session.login_hint}" for s in not_valid))
        return 3
    return 0


def _discovery_for(session):
    """A session's accounts and roles: from the cache, or listed now (the session must be signed in)."""
    from tray.core.identity.accounts import discover, read_cache
    from tray.core.identity.sessions import valid_token

    return read_cache(session) or discover(session, valid_token(session))


def _role_credentials(args):
    from tray.core.identity import rolecreds
    from tray.core.identity.config import AwsConfig
    from tray.core.identity.profiles import resolve

    config = AwsConfig.load()
    profile = resolve(config, args.profile, args.sso_session, _discovery_for)
    return profile, rolecreds.get(profile.session, profile.account_id, profile.role_name)


def cmd_profiles(args) -> int:
    from tray.core.identity.accounts import discover, read_cache
    from tray.core.identity.config import AwsConfig
    from tray.core.credentials import format_time
    from tray.core.errors import NotSignedIn
    from tray.core.identity.profiles import merge
    from tray.core.identity.sessions import valid_token

    config = AwsConfig.load()
    sessions = [config.session(args.sso_session)] if args.sso_session else list(config.sessions.values())
    discoveries, problems = {}, []
    for session in sessions:
        discovery = None if args.refresh else read_cache(session)
        if discovery is None:
            try:
                discovery = discover(session, valid_token(session))
            except NotSignedIn as e:
                problems.append(str(e))
                continue
        discoveries[session.name] = discovery
    profiles = merge(config, discoveries)
    if args.json:
        print(json.dumps({
            "profiles": [p.to_json() for p in profiles],
            "sessions": [
                {"name": d.session_name, "fetched_at": format_time(d.fetched_at), "accounts": len(d.accounts), "roles": d.role_count}
                for d in discoveries.values()
            ],
        }, indent=2))
    else:
        width = max((len(p.name) for p in profiles), default=0)
        for p in profiles:
            account = f"{p.account_id} ({p.account_name})" if p.account_name else p.account_id
            print(f"{p.name:<{width}}  {account}  {p.role_name}  [{p.session.name}]")
    for problem in problems:
        _print_err(problem)
    return 3 if problems else 0


def cmd_export(args) -> int:
    from tray.core.outlets.exports import default_format, format_credentials
    from tray.core.files.settings import Settings

    settings = Settings.load()
    fmt = args.format or settings.default_format or default_format()
    profile, creds = _role_credentials(args)
    text = format_credentials(creds, fmt, profile.region)
    if args.copy:
        from tray.core.outlets.clipboard import copy_secret
        from tray.core.engine.state import clock_time

        copy_secret(text, settings.clear_clipboard_after or None)
        cleared = f"; cleared in {settings.clear_clipboard_after} s" if settings.clear_clipboard_after else ""
        print(f"Copied the {fmt} export lines for {profile.name} to the clipboard (until {clock_time(creds.expiration)}{cleared}).", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_write(args) -> int:
    from tray.core.files.credfile import credential_values, write_profile
    from tray.core.files.paths import credentials_file
    from tray.core.engine.state import clock_time

    profile, creds = _role_credentials(args)
    name = args.as_name or profile.name
    path = credentials_file()
    write_profile(path, name, credential_values(creds, profile.region))
    print(f"Wrote [{name}] to {path} (valid until {clock_time(creds.expiration)}).")
    return 0


def cmd_credential_process(args) -> int:
    from tray.core.outlets.exports import format_credentials

    _, creds = _role_credentials(args)
    sys.stdout.write(format_credentials(creds, "json"))
    return 0


def cmd_console(args) -> int:
    from tray.core.outlets import console

    if args.region:
        from tray.core.files.configwrite import validate_region

        validate_region(args.region)
    if args.destination:
        console.check_destination(args.destination)
    profile, creds = _role_credentials(args)
    url = console.console_url(profile, creds, args.destination, args.region)
    if args.print:
        print(url)  # asked for: the link is a bearer credential, so only ever on stdout and only with --print
    else:
        console.open_url(url)
        print(f"Opened the AWS console as {profile.role_name} in {profile.account_id} ({profile.name}).", file=sys.stderr)
    return 0


def cmd_exec(args) -> int:
    from tray.core.outlets import execrun
    from tray.core.identity import rolecreds
    from tray.core.identity.config import AwsConfig
    from tray.core.identity.profiles import resolve

    if not args.command:
        raise UsageError("exec needs a command after `--`: sso-tray exec PROFILE [--server] -- CMD [ARG...]")
    profile = resolve(AwsConfig.load(), args.profile, args.sso_session, _discovery_for)
    execrun.check_nesting(profile.name, args.force)

    def credentials():
        return rolecreds.get(profile.session, profile.account_id, profile.role_name)

    creds = credentials()  # before CMD starts: a session that is signed out fails here, with exit 3
    if not args.server:
        return execrun.run(args.command, execrun.child_environment(os.environ, profile.name, profile.region, execrun.static_variables(creds)))
    shadow = execrun.shadowing_credentials()
    if shadow:
        _print_err(f"warning: {shadow} has credentials, and SDKs in the command take those before the credentials endpoint")
    with execrun.CredentialServer(credentials) as server:
        return execrun.run(args.command, execrun.child_environment(os.environ, profile.name, profile.region, server.variables()))


def cmd_configure(args) -> int:
    from tray.core.files import configwrite
    from tray.core.identity.config import AwsConfig
    from tray.core.files.paths import aws_config_file

    if args.what == "profiles":
        return _configure_profiles(args)
    given = [flag for flag, value in (("--sso-session", args.sso_session), ("--name-format", args.name_format), ("--dry-run", args.dry_run), ("--prune", args.prune)) if value]
    if given:
        raise UsageError(f"{given[0]} belongs to `sso-tray configure profiles`")
    if not args.start_url or not args.region:
        raise UsageError("configure needs --start-url URL and --region R (or: sso-tray configure profiles)")
    name = configwrite.write_sso_session(args.start_url, args.region, args.name)
    print(f"Wrote [sso-session {name}] to {aws_config_file()}.")
    if args.no_login:
        print(f"Sign in with: sso-tray login --sso-session {name}")
        return 0
    _sign_in(AwsConfig.load().session(name))
    print(f"Next, a profile for every role: sso-tray configure profiles --sso-session {name}")
    return 0


def _configure_profiles(args) -> int:
    from tray.core.files import configwrite
    from tray.core.identity.accounts import discover
    from tray.core.identity.config import AwsConfig
    from tray.core.files.paths import aws_config_file
    from tray.core.identity.sessions import valid_token

    given = [flag for flag, value in (("--start-url", args.start_url), ("--name", args.name), ("--no-login", args.no_login)) if value]
    if given:
        raise UsageError(f"{given[0]} belongs to `sso-tray configure`, not `configure profiles`")
    name_format = configwrite.check_name_format(args.name_format or configwrite.DEFAULT_NAME_FORMAT)
    region = configwrite.validate_region(args.region) if args.region else None
    session = AwsConfig.load().session(args.sso_session)
    if session.legacy:
        raise UsageError(f"configure profiles needs an [sso-session] (profile {session.name} has a legacy sso_start_url): run sso-tray configure first")
    discovery = discover(session, valid_token(session))  # listed afresh: --prune must see what is gone now
    roles = [(a.account_id, a.name, role) for a in discovery.accounts for role in a.roles]
    plan = configwrite.write_profiles(session.name, roles, name_format, region, args.prune, args.dry_run)
    verb = "would be " if args.dry_run else ""
    for label, names in (("added", plan.added), ("updated", plan.updated), ("removed", plan.removed)):
        for name in names:
            print(f"{verb}{label}: [profile {name}]")
    for role, name in plan.by_hand:
        print(f"kept: {role} is your own [profile {name}]")
    for name in plan.stale:
        print(f"role gone: [profile {name}] (sso-tray configure profiles --prune removes it)")
    print(
        f"{len(plan.added)} added, {len(plan.updated)} updated, {len(plan.unchanged)} unchanged, {len(plan.removed)} removed"
        + (" (dry run: nothing written)" if args.dry_run else f" in {aws_config_file()}")
    )
    return 0


def cmd_completion(args) -> int:
    from tray.core.outlets.completion import script

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    spec, value_flags = {}, []
    for name, p in sub.choices.items():
        flags = [o for a in p._actions for o in a.option_strings if o.startswith("--") and o != "--help"]
        value_flags += [o for a in p._actions if a.nargs != 0 for o in a.option_strings if o.startswith("--") and o not in value_flags]
        positionals = [a for a in p._actions if not a.option_strings]
        first = positionals[0] if positionals else None
        spec[name] = {
            "flags": flags,
            "takes_profile": first is not None and first.metavar == "PROFILE",
            "choices": list(first.choices or ()) if first is not None and name != "simulator" else [],
        }
    sys.stdout.write(script(args.shell, spec, value_flags))
    return 0


def cmd_autostart(args) -> int:
    from tray.core.osutil import autostart

    if args.action == "on":
        from tray.ui.platform import app_icons

        autostart.enable(app_icons=app_icons())  # on Linux also the applications-menu entry and its icons
        print(f"sso-tray starts at login ({autostart.describe()})")
    elif args.action == "off":
        autostart.disable()
        print("sso-tray no longer starts at login")
    else:
        print(f"on ({autostart.describe()})" if autostart.is_enabled() else "off")
    return 0


def cmd_find(args) -> int:
    from tray.ui.finder import channel, open_in_browser

    url = channel.page_url(args.text)
    if args.print_url:
        print(url)  # asked for: a one-time ticket to the page, like `console --print`
    else:
        open_in_browser(url)
    return 0


def cmd_simulator(args) -> int:
    from tray.simulator.cli import main as simulator_main

    return simulator_main(args.simulator_args)


def cmd_run(args) -> int:
    from tray.ui.app import run

    return run()


def cmd_demo(args) -> int:
    from tray.cli.demo import main as demo_main

    return demo_main(accounts=args.accounts, tray=not args.no_tray)


# --- parsing -------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """Bad usage is one line on stderr and exit 2, like every other error."""

    def error(self, message: str):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command or, given a command's name, of that command alone (building the other
    ten is a measurable part of a cached `export`). Usage errors and --help read the same either way."""
    parser = _Parser(prog="sso-tray", description="AWS IAM Identity Center (AWS SSO) in your system tray and terminal.")
    parser.add_argument("--version", action="version", version=f"sso-tray {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, func, help: str, **kwargs) -> argparse.ArgumentParser | None:
        if command not in (None, name):
            return None
        p = sub.add_parser(name, help=help, **kwargs)
        p.set_defaults(func=func)
        return p

    add("run", cmd_run, "start the tray (the default)")

    if p := add("demo", cmd_demo, "the tray on a built-in Identity Center simulator and a throw-away HOME"):
        p.add_argument("--accounts", type=int, default=25, metavar="N", help="how many accounts the simulator has (default 25)")
        p.add_argument("--no-tray", action="store_true", help="sign in and print the status, without starting the tray")

    if p := add("login", cmd_login, "sign in to an SSO session (browser, PKCE; or --device-code)"):
        group = p.add_mutually_exclusive_group()
        group.add_argument("--sso-session", metavar="NAME", help="the [sso-session NAME] to sign in to")
        group.add_argument("--profile", metavar="P", help="sign in to the session this profile uses")
        p.add_argument("--device-code", action="store_true", help="use the device authorization flow")
        p.add_argument("--no-browser", action="store_true", help="print the sign-in URL instead of opening a browser")
        p.add_argument("--timeout", type=float, default=600, metavar="SECONDS", help="give up after this long (default 600)")

    if p := add("logout", cmd_logout, "sign out: call Logout and remove the cached token"):
        p.add_argument("--sso-session", metavar="NAME", help="only this session (default: all)")

    if p := add("status", cmd_status, "each session's status and time left (exit 3 if any is not signed in)"):
        p.add_argument("--json", action="store_true", help="a JSON object: {\"sessions\": [...]}")

    if p := add("profiles", cmd_profiles, "configured profiles and every account/role of the signed-in sessions"):
        p.add_argument("--json", action="store_true", help="a JSON object: {\"profiles\": [...], \"sessions\": [...]}")
        p.add_argument("--refresh", action="store_true", help="list the accounts and roles again instead of using the cache")
        p.add_argument("--sso-session", metavar="NAME", help="only this session")

    if p := add("export", cmd_export, "print (or --copy) the shell lines that set a profile's credentials"):
        p.add_argument("profile", metavar="PROFILE", help="a profile name, ACCOUNT_ID/ROLE_NAME or ACCOUNT_NAME/ROLE_NAME")
        p.add_argument("--format", metavar="F", help="bash (default on POSIX), zsh, sh, fish, powershell, cmd, dotenv or json")
        p.add_argument("--copy", action="store_true", help="put the lines on the clipboard instead of printing them")
        p.add_argument("--sso-session", metavar="NAME", help="the session to use where several are configured")

    if p := add("write", cmd_write, "write a profile's credentials to the shared credentials file"):
        p.add_argument("profile", metavar="PROFILE")
        p.add_argument("--as", dest="as_name", metavar="NAME", help="the section name to write (default: PROFILE)")
        p.add_argument("--sso-session", metavar="NAME")

    if p := add("credential-process", cmd_credential_process, "credentials as a credential_process program prints them"):
        p.add_argument("profile", metavar="PROFILE")
        p.add_argument("--sso-session", metavar="NAME")

    if p := add("console", cmd_console, "open the AWS console signed in as a role (or --print the link)"):
        p.add_argument("profile", metavar="PROFILE")
        p.add_argument("--print", action="store_true", help="print the sign-in link instead of opening it (it is a bearer credential)")
        p.add_argument("--destination", metavar="URL", help="the console page to open (default: the console home of the region)")
        p.add_argument("--region", metavar="R", help="the console's region (default: the profile's, else the SSO session's)")
        p.add_argument("--sso-session", metavar="NAME")

    if p := add("exec", cmd_exec, "run a command with a role's credentials (-- CMD [ARG...])",
                usage="sso-tray exec PROFILE [--server] [--force] [--sso-session NAME] -- CMD [ARG...]"):
        p.add_argument("profile", metavar="PROFILE")
        p.add_argument("--server", action="store_true", help="serve the credentials on 127.0.0.1 (container credentials protocol) instead of putting keys in the environment")
        p.add_argument("--force", action="store_true", help="run even inside another `sso-tray exec` for a different profile")
        p.add_argument("--sso-session", metavar="NAME")

    if p := add("configure", cmd_configure, "add an [sso-session] to the AWS config and sign in; `configure profiles`: a profile for every role",
                usage="sso-tray configure --start-url URL --region R [--name NAME] [--no-login]\n"
                      "       sso-tray configure profiles [--sso-session NAME] [--name-format FMT] [--region R] [--dry-run] [--prune]"):
        p.add_argument("what", nargs="?", choices=("profiles",), help="profiles: write a [profile] for every account/role of the session")
        p.add_argument("--start-url", metavar="URL", help="the AWS access portal URL, e.g. https://example.awsapps.com/start")
        p.add_argument("--region", metavar="R", help="the Identity Center region (for profiles: the region the profiles get)")
        p.add_argument("--name", metavar="NAME", help="the session's name (default: the start URL's subdomain)")
        p.add_argument("--no-login", action="store_true", help="write the session without signing in")
        p.add_argument("--sso-session", metavar="NAME", help="profiles: the session whose roles to write")
        p.add_argument("--name-format", metavar="FMT", help="profiles: the profile names, from {account_name}, {account_id}, {role_name}, {sso_session} (default {account_name}.{role_name})")
        p.add_argument("--dry-run", action="store_true", help="profiles: say what would change, write nothing")
        p.add_argument("--prune", action="store_true", help="profiles: remove the profiles sso-tray wrote whose role is gone")

    if p := add("completion", cmd_completion, "a completion script for bash, zsh or fish (profile names included)"):
        p.add_argument("shell", choices=("bash", "zsh", "fish"))

    if p := add("autostart", cmd_autostart, "start the tray at login: on, off, or status"):
        p.add_argument("action", choices=("on", "off", "status"))

    if p := add("find", cmd_find, "open the running tray's role finder page in the browser"):
        p.add_argument("text", nargs="?", metavar="TEXT", help="put TEXT in the search box")
        p.add_argument("--print-url", action="store_true", help="print the page's URL instead of opening it")

    if p := add("simulator", cmd_simulator, "run the built-in Identity Center simulator (see sso-tray simulator --help)", add_help=False):
        p.add_argument("simulator_args", nargs=argparse.REMAINDER)

    if not sub.choices:  # `command` names no command: build them all, so that the usage error lists them
        return build_parser()
    return parser


# What a console code page (cp932, cp949, cp1252) cannot show is written as its nearest ASCII.
_LOOKALIKES = {"—": "-", "–": "-", "…": "...", "·": "-", "‘": "'", "’": "'", "“": '"', "”": '"'}


def _console_replace(error: UnicodeEncodeError) -> tuple[str, int]:
    import unicodedata

    text = error.object[error.start:error.end]
    plain = (_LOOKALIKES.get(c) or unicodedata.normalize("NFKD", c).encode("ascii", "ignore").decode() or "?" for c in text)
    return "".join(plain), error.end


def _survive_any_code_page() -> None:
    """Output redirected on Windows is encoded in the console's code page, where "—" or an account's
    name may have no character: replace those instead of dying on UnicodeEncodeError."""
    import codecs

    codecs.register_error("sso-tray-console", _console_replace)
    for stream in (sys.stdout, sys.stderr):  # None under pythonw.exe
        if hasattr(stream, "reconfigure") and stream.errors == "strict":
            stream.reconfigure(errors="sso-tray-console")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _survive_any_code_page()
    if argv[:1] == ["__complete"]:  # the completion scripts' call for names: hidden, and no parser to build
        from tray.core.outlets.completion import answer

        return answer(argv[1:])
    if argv and argv[0] == "simulator":  # its own parser owns every flag after the word
        args = argparse.Namespace(func=cmd_simulator, simulator_args=argv[1:])
    else:
        # everything after exec's `--` is the command's own, flags included: argparse never sees it
        command = argv[argv.index("--") + 1 :] if argv[:1] == ["exec"] and "--" in argv else None
        try:
            args = build_parser(argv[0] if argv else None).parse_args(argv if command is None else argv[: len(argv) - len(command) - 1])
            if argv[:1] == ["exec"]:
                args.command = command
        except UsageError as e:
            _print_err(str(e))
            return e.exit_code
    if getattr(args, "func", None) is None:
        args.func = cmd_run
    try:
        return args.func(args)
    except TrayError as e:
        _print_err(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        _print_err("interrupted")
        return 130
    except Exception as e:  # a bug: still one line, no traceback (SSO_TRAY_DEBUG=1 shows it)
        if os.environ.get("SSO_TRAY_DEBUG"):
            raise
        _print_err(f"internal error ({type(e).__name__}); run again with SSO_TRAY_DEBUG=1 for details")
        return 1

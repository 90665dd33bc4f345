"""`profiles`, `export`, `write`, `credential-process`, `console`, `exec`: a role's credentials, handed out."""

from __future__ import annotations

import json
import os
import sys

from tray.cli.output import print_err
from tray.core.errors import UsageError, shown


def _discovery_for(session):
    """A session's accounts and roles: from the cache, or listed now (the session must be signed in)."""
    from tray.core.identity.accounts import discover, read_cache
    from tray.core.identity.sessions import valid_token

    return read_cache(session) or discover(session, valid_token(session))

def _with_account_name(profile):
    """The profile with its account's name, for what a person reads: from the session's cached account list
    (no AWS call for a message); unchanged when none is cached."""
    if profile.account_name:
        return profile
    from tray.core.identity.accounts import read_cache

    discovery = read_cache(profile.session)
    name = next((a.name for a in discovery.accounts if a.account_id == profile.account_id), None) if discovery else None
    return profile._replace(account_name=name) if name else profile


def _shown(profile) -> str:
    """How a message names a profile: an SSO role by its account's name first, an `aws login` one by its name;
    escaped (`shown`), as the names come from the portal."""
    from tray.core.identity.profiles import RoleProfile

    return shown(_with_account_name(profile).label if isinstance(profile, RoleProfile) else profile.name)


def _picked(config, args) -> str:
    """PROFILE as given or, left out on a terminal, as a person picks it (tray.cli.picker)."""
    if args.profile is None:
        from tray.cli.picker import pick_profile

        args.profile = pick_profile(config, args.sso_session, args.func.rpartition(".cmd_")[2])
    return args.profile


def _resolve(args):
    """The SSO role PROFILE names (or the one picked)."""
    from tray.core.identity.config import AwsConfig
    from tray.core.identity.profiles import resolve

    config = AwsConfig.load()
    return resolve(config, _picked(config, args), args.sso_session, _discovery_for)


def _credential_source(args):
    """(the profile, a function that gives its credentials): an SSO role's, or an `aws login` profile's;
    with no PROFILE on a terminal, the one a person picks."""
    from tray.core.identity.config import AwsConfig

    config = AwsConfig.load()
    name = _picked(config, args)
    if name in config.logins and name not in config.profiles:  # botocore's chain: SSO first
        from tray.core.identity import login

        profile = config.logins[name]
        return profile, lambda: login.credentials(profile)
    from tray.core.identity import rolecreds
    from tray.core.identity.profiles import resolve

    profile = resolve(config, name, args.sso_session, _discovery_for)
    return profile, lambda: rolecreds.get(profile.session, profile.account_id, profile.role_name)


def _role_credentials(args):
    profile, credentials = _credential_source(args)
    return profile, credentials()

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
        _print_profiles(profiles)
    for problem in problems:
        print_err(problem)
    return 3 if problems else 0

def _print_profiles(profiles) -> None:
    """A table, account names first: configured profiles by name, then every other role by account and role
    (number-aware: prod-2 before prod-10); a header line when a person reads it on a terminal."""
    from tray.core.identity.profiles import shown_names
    from tray.core.naming import natural_key

    rows = sorted(
        zip(shown_names(profiles), profiles),
        key=lambda row: (not row[1].configured, natural_key(row[0]) if row[1].configured else (),
                         natural_key(row[1].account_name or row[1].account_id), natural_key(row[1].role_name), row[1].session.name),
    )
    # names come from the portal: a terminal must not act on an escape sequence in one
    table = [tuple(map(shown, (name, p.account_name or "", p.account_id, p.role_name, p.session.name))) for name, p in rows]
    if sys.stdout.isatty() and table:
        table.insert(0, ("PROFILE", "ACCOUNT", "ACCOUNT ID", "ROLE", "SSO SESSION"))
    widths = [max(len(row[i]) for row in table) for i in range(4)] if table else []
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])


def cmd_export(args) -> int:
    from tray.core.outlets.exports import default_format, format_credentials
    from tray.core.files.settings import Settings

    settings = Settings.load()
    fmt = args.format or settings.default_format or default_format()
    if args.refreshing:
        from tray.core.outlets.exports import format_refreshing
        from tray.ui.terminals import ask_for_variables

        profile, creds = _resolve(args), None
        text = format_refreshing(ask_for_variables(profile.name), fmt, profile.region)
    else:
        profile, creds = _role_credentials(args)
        text = format_credentials(creds, fmt, profile.region)
    if args.copy:
        from tray.core.engine.state import clock_time  # not on the plain export's path: it loads dataclasses
        from tray.core.outlets.clipboard import copy_secret

        copy_secret(text, settings.clear_clipboard_after or None)
        cleared = f"; cleared in {settings.clear_clipboard_after} s" if settings.clear_clipboard_after else ""
        what = "export" if creds else "auto-refreshing"
        lasting = f"until {clock_time(creds.expiration)}" if creds else "fresh while the tray runs"
        print(f"Copied the {fmt} {what} lines for {_shown(profile)} to the clipboard ({lasting}{cleared}).", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0

def cmd_write(args) -> int:
    from tray.core.files.credfile import credential_values, refuse_hiding_login, write_profile
    from tray.core.files.paths import credentials_file
    from tray.core.engine.state import clock_time

    profile, credentials = _credential_source(args)
    name = args.as_name or section_name(profile)
    refuse_hiding_login(name)  # before any credentials are fetched
    creds = credentials()
    path = credentials_file()
    write_profile(path, name, credential_values(creds, profile.region))
    print(f"Wrote [{shown(name)}] to {path} for {_shown(profile)} (valid until {clock_time(creds.expiration)}).")
    return 0

def section_name(profile) -> str:
    """The credentials-file section `write` names a role by: the configured profile's own name (an `aws login`
    one's too), else `account-name.Role` as `configure profiles` names them (the id stands in for an unknown
    name)."""
    from tray.core.files.configwrite import profile_name
    from tray.core.identity.profiles import RoleProfile

    if not isinstance(profile, RoleProfile) or profile.configured:
        return profile.name
    profile = _with_account_name(profile)
    return profile_name("{account_name}.{role_name}", profile.account_id, profile.account_name or profile.account_id,
                        profile.role_name, profile.session.name)


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
    if args.destination and args.service:
        raise UsageError("--destination and --service name the page twice: give one")
    if args.destination:
        console.check_destination(args.destination)
    if args.service:
        console.service_destination(args.service, "us-east-1")  # the name is checked before any AWS call
    profile, credentials = _credential_source(args)
    if not hasattr(profile, "role_name"):
        raise UsageError(f"{profile.name} is an `aws login` profile: open the console you signed in from (console links are made for SSO roles)")
    creds = credentials()
    destination = args.destination
    if args.service:
        destination = console.service_destination(args.service, args.region or profile.region or profile.session.region)
    url = console.console_url(profile, creds, destination, args.region)
    if args.print:
        print(url)  # asked for: the link is a bearer credential, so only ever on stdout and only with --print
    else:
        console.open_url(url)
        print(f"Opened the AWS console as {_shown(profile)}.", file=sys.stderr)
    return 0

def cmd_exec(args) -> int:
    from tray.core.outlets import execrun

    command = args.command or [execrun.interactive_shell()]  # no command: a shell, marked against nesting
    profile, credentials = _credential_source(args)
    execrun.check_nesting(profile.name, args.force)
    creds = credentials()  # before CMD starts: a session that is signed out fails here, with exit 3
    if not args.server:
        return execrun.run(command, execrun.child_environment(os.environ, profile.name, profile.region, execrun.static_variables(creds)))
    shadow = execrun.shadowing_credentials()
    if shadow:
        print_err(f"warning: {shadow} has credentials, and SDKs in the command take those before the credentials endpoint")
    with execrun.CredentialServer(credentials) as server:
        return execrun.run(command, execrun.child_environment(os.environ, profile.name, profile.region, server.variables()))

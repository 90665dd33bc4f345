"""`configure`, `configure profiles`, `completion`, `autostart`: setting sso-tray and the AWS config up."""

from __future__ import annotations

import argparse
import sys

from tray.cli.session import sign_in
from tray.core.errors import UsageError


def cmd_configure(args) -> int:
    from tray.core.files import configwrite
    from tray.core.identity.config import AwsConfig
    from tray.core.files.paths import aws_config_file

    if args.what == "profiles":
        return _configure_profiles(args)
    given = [flag for flag, value in (("--sso-session", args.sso_session), ("--name-format", args.name_format), ("--dry-run", args.dry_run), ("--prune", args.prune)) if value]
    if given:
        raise UsageError(f"{given[0]} belongs to `sso-tray configure profiles`")
    if not args.start_url:
        raise UsageError("configure needs --start-url URL (and --region R where the URL does not name it; or: sso-tray configure profiles)")
    from tray.core.identity.startregion import configured_region

    region = configured_region(configwrite.validate_start_url(args.start_url), args.region)
    name = configwrite.write_sso_session(args.start_url, region, args.name)
    print(f"Wrote [sso-session {name}] to {aws_config_file()}.")
    if args.no_login:
        print(f"Sign in with: sso-tray login --sso-session {name}")
        return 0
    sign_in(AwsConfig.load().session(name))
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
    from tray.cli.parser import build_parser
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

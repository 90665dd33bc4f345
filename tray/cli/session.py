"""`login`, `logout`, `status`: the SSO sessions themselves."""

from __future__ import annotations

import json
import sys

from tray.cli.output import print_err
from tray.core.errors import UsageError


def sign_in(session, device_code: bool = False, open_browser: bool = True, timeout: float = 600.0) -> None:
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
    sign_in(session, args.device_code, not args.no_browser, args.timeout)
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
        print_err("not signed in: " + "; ".join(f"{s.session.name}: {s.session.login_hint}" for s in not_valid))
        return 3
    return 0

"""`login`, `logout`, `status`: the SSO sessions themselves."""

from __future__ import annotations

import json
import sys
from datetime import timedelta

from tray.cli.output import print_err
from tray.core.errors import UsageError, shown


def sign_in(session, device_code: bool = False, open_browser: bool = True, timeout: float = 600.0) -> None:
    from tray.core.engine.state import clock_time, describe_left
    from tray.core.identity.signin import SignInOptions, login
    from tray.core.credentials import utcnow

    options = SignInOptions(
        device_code=device_code,
        open_browser=open_browser,
        timeout=timeout,
        prompt=lambda message: print(message, file=sys.stderr, flush=True),
        on_user_code=_offer_to_copy,
    )
    token = login(session, options)
    print(f"Signed in to {session.name}: {describe_left(token.remaining(utcnow()))} left, until {clock_time(token.expires_at)}.")


def _offer_to_copy(code: str) -> None:
    """On a terminal with a clipboard, Enter copies the device code (the sign-in goes on waiting meanwhile)."""
    import threading

    from tray.core.errors import TrayError
    from tray.core.outlets import clipboard

    if not sys.stdin or not sys.stdin.isatty() or not clipboard.available():
        return

    def wait_for_enter() -> None:
        if sys.stdin.readline():
            try:
                clipboard.copy_secret(code, None)
                print("Copied the code to the clipboard.", file=sys.stderr, flush=True)
            except TrayError as e:  # the sign-in goes on: the code is on the screen
                print(f"Could not copy the code: {e}", file=sys.stderr, flush=True)

    print("Press Enter to copy the code to the clipboard.", file=sys.stderr, flush=True)
    threading.Thread(target=wait_for_enter, daemon=True, name="copy-user-code").start()


def cmd_login(args) -> int:
    from tray.core.identity.config import AwsConfig

    config = AwsConfig.load()
    if args.min_remaining is not None and not args.if_needed:
        raise UsageError("--min-remaining goes with --if-needed: sso-tray login --if-needed --min-remaining 2h")
    if args.profile in config.logins:
        return _aws_login(config.logins[args.profile], args)
    if args.remote:
        raise UsageError("--remote belongs to `aws login` profiles (login_session); SSO sessions sign in elsewhere with --device-code")
    session = config.profile(args.profile).session if args.profile else config.session(args.sso_session)
    if args.if_needed and _lasts_or_renewed(session, args.min_remaining or timedelta(0)):
        return 0
    sign_in(session, args.device_code, not args.no_browser, args.timeout)
    return 0


def _aws_login(profile, args) -> int:
    """`login --profile P` of an `aws login` profile: its sign-in, as `aws login` does it."""
    from tray.core.credentials import utcnow
    from tray.core.engine.state import clock_time, describe_left
    from tray.core.identity import login

    if args.device_code:
        raise UsageError("--device-code is for SSO sessions: an `aws login` profile signs in elsewhere with --remote")
    now = utcnow()
    if args.if_needed and login.login_status(profile, now)[0].lasts(now, args.min_remaining or timedelta(0)):
        print(f"{profile.name} is signed in and renews itself; no sign-in needed.")
        return 0
    options = login.LoginOptions(
        remote=args.remote,
        open_browser=not args.no_browser,
        timeout=args.timeout,
        prompt=lambda message: print(message, file=sys.stderr, flush=True),
        read_code=_read_code,
    )
    signed_in, token = login.sign_in(profile, options)
    left = describe_left(token.expires_at - utcnow())
    print(f"Signed in as {signed_in.login_session} for profile {profile.name}: credentials for {left}, until"
          f" {clock_time(token.expires_at)}, refreshed as they are used.")
    return 0


def _read_code(question: str) -> str:
    if not sys.stdin or not sys.stdin.readable():
        raise UsageError("--remote needs a terminal to paste the code into")
    print(question, end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip()


def _lasts_or_renewed(session, duration: timedelta) -> bool:
    """True (and says so) when the session lasts `duration`, renewing it silently first where it can."""
    from tray.core.credentials import utcnow
    from tray.core.engine.state import describe_left
    from tray.core.errors import TrayError
    from tray.core.identity.sessions import renew, session_status

    now = utcnow()
    status, _token = session_status(session, now)
    if not status.lasts(now, duration) and status.refreshable:
        try:  # renewing is silent: only a refused or failed renewal leads to a sign-in
            renew(session, now, window=duration)
        except TrayError as e:
            print(shown(f"{session.name}: could not renew ({e}); signing in"), file=sys.stderr)
        status, _token = session_status(session, now)
    if not status.lasts(now, duration):
        return False
    left = describe_left(status.expires_at - now)
    how = ", renews itself" if status.refreshable else ""
    print(f"{session.name} is signed in: {left} left{how}; no sign-in needed.")
    return True


def cmd_logout(args) -> int:
    from tray.core.identity import rolecreds
    from tray.core.identity.config import AwsConfig
    from tray.core.identity.signin import logout

    config = AwsConfig.load()
    if args.profile in config.logins:
        from tray.core.identity import login

        removed = login.logout(config.logins[args.profile])
        print(f"Removed the cached login of {args.profile}; credentials handed out already last until they expire (at most 15 minutes)."
              if removed else f"{args.profile} was not signed in.")
        return 0
    if args.profile:
        sessions = [config.profile(args.profile).session]
    else:
        sessions = [config.session(args.sso_session)] if args.sso_session or len(config.sessions) == 1 else list(config.sessions.values())
    for session in sessions:
        removed = logout(session)
        print(f"Signed out of {session.name}." if removed else f"{session.name} was not signed in.")
    # as `aws sso logout` does: cached SSO role credentials go too, they are what signing out is for
    rolecreds.forget_all()
    return 0

def cmd_status(args) -> int:
    from tray.core.identity.config import AwsConfig
    from tray.core.identity.login import login_status
    from tray.core.identity.sessions import VALID, session_status
    from tray.core.engine.state import clock_time, describe_left
    from tray.core.credentials import utcnow

    config = AwsConfig.load()
    if not config.sessions and not config.logins:
        raise UsageError(f"{config.path}: no SSO session is configured ([sso-session NAME] or a profile with sso_start_url)")
    now = utcnow()
    if args.target in config.logins and args.target not in config.sessions:
        statuses = [login_status(config.logins[args.target], now)[0]]
    else:
        sessions = [_session_named(config, args.target)] if args.target else list(config.sessions.values())
        statuses = [session_status(s, now)[0] for s in sessions]
        if not args.target:
            statuses += [login_status(p, now)[0] for p in config.logins.values()]
    need = args.min_remaining
    short = [s for s in statuses if not s.lasts(now, need or timedelta(0))]
    if args.json:
        body = {"sessions": [s.to_json(now) for s in statuses]}
        if need is not None:
            body.update(min_remaining_seconds=int(need.total_seconds()), ok=not short, reason=_why_short(short, need, now) if short else None)
        print(json.dumps(body, indent=2))
    else:
        for s in statuses:
            if s.state == VALID:
                line = f"{s.session.name} — {describe_left(s.expires_at - now)} left, until {clock_time(s.expires_at)}"
                if s.refreshable:
                    line += " (renews itself)"
                if getattr(s, "account_id", None):
                    line += f" [aws login, account {s.account_id}]"
            elif s.session.problem:
                line = f"{s.session.name} — cannot be used"
            elif s.expires_at is not None:
                line = f"{s.session.name} — expired at {clock_time(s.expires_at)}"
            else:
                line = f"{s.session.name} — signed out"
            print(shown(line))
            if s.problem:  # may carry the server's words
                print(f"  {shown(s.problem)}")
    if short:
        print_err(_why_short(short, need, now))
        # a section that cannot be used is bad config (2); a session that is only signed out or short is 3
        return 3 if any(not s.session.problem for s in short) else 2
    return 0


def _session_named(config, target: str):
    """`status TARGET`: a session's name, or a profile's (its session)."""
    if target in config.sessions:
        return config.sessions[target]
    if target in config.profiles or target in config.broken:
        return config.profile(target).session
    if "/" in target:  # ACCOUNT_NAME/ROLE_NAME or ACCOUNT_ID/ROLE_NAME, as every command takes a PROFILE
        from tray.cli.roles import _discovery_for
        from tray.core.identity.profiles import resolve

        return resolve(config, target, None, _discovery_for).session
    from tray.core.naming import did_you_mean

    known = ", ".join(sorted(config.sessions)) or "none"
    hint = did_you_mean(target, [*config.sessions, *config.profiles])
    raise UsageError(f"{target!r} is neither an SSO session (configured: {known}) nor an SSO profile in {config.path}{hint}")


def _why_short(short, need, now) -> str:
    """One line: which sessions will not do, and the command that signs each in."""
    from tray.core.engine.state import describe_left
    from tray.core.identity.sessions import VALID

    def why(s) -> str:
        if s.session.problem:
            return s.session.problem
        if s.state == VALID:
            return f"{s.session.name} has {describe_left(s.expires_at - now)} left, less than {describe_left(need)}"
        return f"{s.session.name} is {'expired' if s.state != 'signed_out' else 'not signed in'}"

    return "; ".join(why(s) if s.session.problem else f"{why(s)}; sign in with: {s.session.login_hint}" for s in short)

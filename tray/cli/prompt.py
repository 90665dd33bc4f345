"""`prompt`: a short segment for the shell prompt — `dev 2h13m`, `dev expired`, or nothing.

Read from the files and the environment alone, never the network and never boto3: a prompt runs before every
command line. What it describes, first match wins:
- credentials in the environment (export lines, `exec`): their own `AWS_CREDENTIAL_EXPIRATION`, named by
  `exec`'s marker or `AWS_PROFILE`;
- `exec`'s marker or `AWS_PROFILE` naming an SSO profile: its session's token in the cache; an `aws login`
  profile: its cached credentials;
- otherwise nothing. A prompt never prints an error: anything unreadable is nothing.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime

EXEC_MARKER = "SSO_TRAY_PROFILE"  # tray.core.outlets.execrun.MARKER, named here to keep exec's imports out of a prompt


def cmd_prompt(args) -> int:
    from tray.core.credentials import utcnow

    text = segment(os.environ, utcnow())
    if text:
        sys.stdout.write(text + "\n")
    return 0


def segment(environ, now: datetime) -> str:
    try:
        return _segment(environ, now)
    except Exception:  # noqa: BLE001 - a broken prompt is worse than an empty one
        return ""


def _segment(environ, now: datetime) -> str:
    from tray.core.credentials import parse_time

    name = environ.get(EXEC_MARKER) or environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE")
    expiration = environ.get("AWS_CREDENTIAL_EXPIRATION")
    if expiration and environ.get("AWS_ACCESS_KEY_ID"):
        return f"{name or 'aws'} {_left(parse_time(expiration), now)}"
    if not name:
        return ""
    from tray.core.identity.config import AwsConfig
    from tray.core.identity.tokens import read_token

    config = AwsConfig.load()
    profile = config.profiles.get(name)
    if profile is None and name in config.logins:  # an `aws login` profile: its cached credentials
        from tray.core.identity.login import read_token as read_login

        login_token = read_login(config.logins[name])
        return f"{name} {_left(login_token.expires_at, now) if login_token else 'signed out'}"
    if profile is None:
        return ""  # not an SSO profile: not ours to describe
    token = read_token(profile.session)
    return f"{name} {_left(token.expires_at, now) if token else 'signed out'}"


def _left(expires_at: datetime, now: datetime) -> str:
    seconds = int((expires_at - now).total_seconds())
    if seconds <= 0:
        return "expired"
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours >= 24:
        return f"{hours // 24}d{hours % 24}h"
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m" if minutes else f"{seconds}s"

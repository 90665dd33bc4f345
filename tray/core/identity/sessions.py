"""What each SSO session is doing now: signed out, valid, expired; and silent renewal.

With a refresh token the access token is renewed before it expires (inside the same 15-minute window
botocore uses), so a session lasts as long as Identity Center allows rather than one token lifetime.
Reading a status touches only the cache file; the AWS SDK is loaded only when a renewal is due.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from tray.core.identity import aws
from tray.core.identity.config import SsoSession
from tray.core.credentials import format_time, utcnow
from tray.core.errors import ConfigError, NotSignedIn, TrayError
from tray.core.files.fileio import file_lock
from tray.core.identity.tokens import REFRESH_WINDOW, CorruptTokenCache, Token, read_token, write_token

SIGNED_OUT = "signed_out"
VALID = "valid"
EXPIRED = "expired"


@dataclass(frozen=True)
class SessionStatus:
    session: SsoSession
    state: str  # SIGNED_OUT, VALID or EXPIRED
    expires_at: datetime | None = None
    refreshable: bool = False
    problem: str | None = None  # why it is signed out, or why a renewal failed
    registration_expires_at: datetime | None = None  # when a refreshable token's client registration ends

    def lasts(self, now: datetime, duration: timedelta) -> bool:
        """Valid for at least `duration` from `now`: by its token's own expiry, or because it renews itself
        until then (a refresh token whose client registration outlasts it, as botocore renews it)."""
        if self.state != VALID:
            return False
        if self.expires_at - now >= duration:
            return True
        return self.refreshable and (self.registration_expires_at is None or self.registration_expires_at > now + duration)

    def seconds_left(self, now: datetime) -> int | None:
        if self.expires_at is None:
            return None
        return max(0, int((self.expires_at - now).total_seconds()))

    def to_json(self, now: datetime) -> dict:
        return {
            "name": self.session.name,
            "start_url": self.session.start_url,
            "region": self.session.region,
            "legacy": self.session.legacy,
            "status": self.state,
            "expires_at": format_time(self.expires_at) if self.expires_at else None,
            "seconds_left": self.seconds_left(now) if self.state == VALID else None,
            "refreshable": self.refreshable,
            "problem": self.problem,
        }


def renew(session: SsoSession, now: datetime, window: timedelta = REFRESH_WINDOW) -> Token:
    """Renew the session's token from what is newest in its cache file, and cache the result.

    Under the session's lock, so that two processes renewing at once make one CreateToken call. The
    file is read first: a token with more than `window` left was renewed by another program (the AWS
    CLI, a second sso-tray) and is adopted; otherwise the refresh token and client in the file are used
    (refresh tokens may rotate, so one held in memory can be stale)."""
    with file_lock(session.token_cache_path, timeout=5):
        token = read_token(session)
        if token is None:
            raise NotSignedIn(f"not signed in to {session.name}; sign in with: {session.login_hint}")
        if token.expires_at - now > window:
            return token
        if not token.refreshable or not token.registration_valid(now):
            raise NotSignedIn(f"the {session.name} session cannot be renewed; sign in again: {session.login_hint}")
        oidc = aws.client("sso-oidc", session.region or token.region)
        with aws.translate_errors(f"renewing the {session.name} session", session.login_hint):
            response = oidc.create_token(
                clientId=token.client_id,
                clientSecret=token.client_secret,
                grantType="refresh_token",
                refreshToken=token.refresh_token,
            )
        renewed = replace(
            token,
            access_token=response["accessToken"],
            expires_at=(now + timedelta(seconds=int(response["expiresIn"]))).replace(microsecond=0),
            refresh_token=response.get("refreshToken") or token.refresh_token,
        )
        write_token(session, renewed)
        return renewed


def session_status(session: SsoSession, now: datetime | None = None, *, renew_due: bool = True) -> tuple[SessionStatus, Token | None]:
    """The session's status and its usable token (None unless valid). Renews when due, unless told not to."""
    now = now or utcnow()
    if session.problem:  # a section sso-tray cannot use: this session's problem, no one else's
        return SessionStatus(session, SIGNED_OUT, problem=session.problem), None
    try:
        token = read_token(session)
    except CorruptTokenCache as e:
        return SessionStatus(session, SIGNED_OUT, problem=str(e)), None
    if token is None:
        return SessionStatus(session, SIGNED_OUT), None
    problem = None
    if renew_due and token.needs_refresh(now):
        try:
            token = renew(session, now)
        except TrayError as e:
            problem = f"could not renew: {e}"
    refreshable = token.refreshable and token.registration_valid(now)
    if not token.is_valid(now):
        return SessionStatus(session, EXPIRED, token.expires_at, refreshable, problem, token.registration_expires_at), None
    return SessionStatus(session, VALID, token.expires_at, refreshable, problem, token.registration_expires_at), token


def valid_token(session: SsoSession, now: datetime | None = None) -> Token:
    """A token to call the portal with, renewed if due; NotSignedIn (exit 3) says how to sign in."""
    now = now or utcnow()
    if session.problem:
        raise ConfigError(session.problem)
    status, token = session_status(session, now)
    if token is not None:
        return token
    if status.state == EXPIRED:
        raise NotSignedIn(f"the {session.name} session expired at {format_time(status.expires_at)}; sign in again: {session.login_hint}")
    if status.problem:
        raise NotSignedIn(status.problem)
    raise NotSignedIn(f"not signed in to {session.name}; sign in with: {session.login_hint}")

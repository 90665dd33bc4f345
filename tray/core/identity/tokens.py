"""The SSO token cache, in the AWS CLI v2's own format, read and written both ways.

`~/.aws/sso/cache/<sha1>.json` holds the access token (and, with the PKCE flow, the refresh token and
the client registration that renews it). The client registration also lives in a file of its own,
keyed as the AWS CLI v2 keys it, so that sso-tray and `aws sso login` reuse each other's registrations.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from tray.core.files import paths
from tray.core.identity.config import SsoSession
from tray.core.credentials import format_time, parse_time
from tray.core.errors import NotSignedIn
from tray.core.files.fileio import write_json

# botocore's SSOTokenProvider renews a token inside 15 minutes of its expiry; so does sso-tray.
REFRESH_WINDOW = timedelta(minutes=15)


class CorruptTokenCache(NotSignedIn):
    """The cache file exists but cannot be used: the session counts as signed out."""


@dataclass(frozen=True)
class Token:
    start_url: str
    region: str
    access_token: str
    expires_at: datetime
    client_id: str | None = None
    client_secret: str | None = None
    registration_expires_at: datetime | None = None
    refresh_token: str | None = None

    def __repr__(self) -> str:  # no secret may reach a log or traceback
        return f"Token(start_url={self.start_url!r}, expires_at={format_time(self.expires_at)}, refreshable={self.refreshable})"

    def remaining(self, now: datetime) -> timedelta:
        return self.expires_at - now

    def is_valid(self, now: datetime) -> bool:
        return self.expires_at > now

    @property
    def refreshable(self) -> bool:
        return bool(self.refresh_token and self.client_id and self.client_secret)

    def registration_valid(self, now: datetime) -> bool:
        return self.registration_expires_at is None or self.registration_expires_at > now

    def needs_refresh(self, now: datetime) -> bool:
        return self.refreshable and self.registration_valid(now) and self.expires_at - now <= REFRESH_WINDOW

    def to_cache(self) -> dict:
        body = {
            "startUrl": self.start_url,
            "region": self.region,
            "accessToken": self.access_token,
            "expiresAt": format_time(self.expires_at),
        }
        if self.client_id:
            body["clientId"] = self.client_id
            body["clientSecret"] = self.client_secret
        if self.registration_expires_at:
            body["registrationExpiresAt"] = format_time(self.registration_expires_at)
        if self.refresh_token:
            body["refreshToken"] = self.refresh_token
        return body

    @classmethod
    def from_cache(cls, body: dict) -> "Token":
        reg = body.get("registrationExpiresAt")
        return cls(
            start_url=body.get("startUrl", ""),
            region=body.get("region", ""),
            access_token=body["accessToken"],
            expires_at=parse_time(body["expiresAt"]),
            client_id=body.get("clientId"),
            client_secret=body.get("clientSecret"),
            registration_expires_at=parse_time(reg) if reg else None,
            refresh_token=body.get("refreshToken"),
        )


# botocore (and so the AWS CLI) rewrites a token file in place: truncate, then write. A reader can catch it
# empty or half-written, so a file that does not parse is read again before it is called corrupt.
READ_ATTEMPTS = 3
READ_PAUSE = 0.1  # seconds between attempts; such a rewrite takes a few milliseconds
_pause = time.sleep


def read_token(session: SsoSession) -> Token | None:
    """The cached token, or None when there is none. A file that cannot be used raises CorruptTokenCache."""
    return read_cache_file(session.token_cache_path, Token.from_cache, "token", session.login_hint,
                           ", so the session counts as signed out")


def read_cache_file(path: Path, parse, what: str, login_hint: str, consequence: str = ""):
    """`parse(body)` of the JSON cache file at `path` (an SSO token, an `aws login` cache), None when there is
    none; read again after a pause before it is called corrupt (CorruptTokenCache)."""
    for attempt in range(1, READ_ATTEMPTS + 1):
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as e:
            raise CorruptTokenCache(f"{path}: cannot read the cached {what} ({e.strerror}); sign in again: {login_hint}") from None
        try:
            body = json.loads(text)
            if not isinstance(body, dict):
                raise ValueError("not an object")
            return parse(body)
        except (ValueError, KeyError, TypeError, AttributeError):
            if attempt < READ_ATTEMPTS:
                _pause(READ_PAUSE)
    raise CorruptTokenCache(f"{path}: the cached {what} is corrupt or incomplete{consequence}; sign in again: {login_hint}")


def write_token(session: SsoSession, token: Token) -> None:
    write_json(session.token_cache_path, token.to_cache())


def delete_token(session: SsoSession) -> bool:
    try:
        session.token_cache_path.unlink()
        return True
    except FileNotFoundError:
        return False


# --- the PKCE client registration, shared with the AWS CLI v2 --------------------------------------


@dataclass(frozen=True)
class Registration:
    client_id: str
    client_secret: str
    expires_at: datetime
    scopes: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"Registration(client_id={self.client_id!r}, expires_at={format_time(self.expires_at)})"

    def is_valid(self, now: datetime) -> bool:
        # leave a margin so that a registration does not lapse in the middle of a sign-in
        return self.expires_at - now > timedelta(minutes=15)

    def can_do(self, grant: str) -> bool:
        """Whether this registration can run the flow `grant` ("authorization_code" or "device_code"). As the
        AWS CLI v2 decides (`_is_registration_for_auth_code`): one without `grantTypes` is a device one, and
        the two kinds never stand in for each other (a device client gets an error page from /authorize)."""
        return ("authorization_code" in self.grant_types) == (grant == "authorization_code")


def registration_cache_path(session: SsoSession) -> Path:
    """Where the client registration is kept, keyed byte for byte as the AWS CLI v2 keys it
    (`BaseSSOTokenFetcher._registration_cache_key`): `scopes` is `sso_registration_scopes` as configured
    (null when absent), `session_name` null for legacy profiles. One file per session for both flows, as
    in the CLI; what a cached registration can do is checked before it is reused (`Registration.can_do`)."""
    args = {
        "tool": "botocore",
        "startUrl": session.start_url,
        "region": session.region,
        "scopes": None if session.registration_scopes is None else list(session.registration_scopes),
        "session_name": None if session.legacy else session.name,
    }
    key = hashlib.sha1(json.dumps(args, sort_keys=True).encode("utf-8")).hexdigest()
    return paths.sso_cache_dir() / f"{key}.json"


def read_registration(path: Path) -> Registration | None:
    """A cached registration, or None when missing or unusable (it is then simply registered again)."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        return Registration(
            client_id=body["clientId"],
            client_secret=body["clientSecret"],
            expires_at=parse_time(body["expiresAt"]),
            scopes=tuple(body.get("scopes") or ()),
            grant_types=tuple(body.get("grantTypes") or ()),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_registration(path: Path, reg: Registration) -> None:
    body = {"clientId": reg.client_id, "clientSecret": reg.client_secret, "expiresAt": format_time(reg.expires_at)}
    if reg.scopes:
        body["scopes"] = list(reg.scopes)
    if reg.grant_types:
        body["grantTypes"] = list(reg.grant_types)
    write_json(path, body)


def token_from_response(session: SsoSession, response: dict, now: datetime, reg: Registration | None) -> Token:
    """A Token from a sign-in's CreateToken response, carrying the registration that can renew it."""
    token = Token(
        start_url=session.start_url,
        region=session.region,
        access_token=response["accessToken"],
        expires_at=(now + timedelta(seconds=int(response["expiresIn"]))).replace(microsecond=0),
        refresh_token=response.get("refreshToken"),
    )
    if reg is not None:
        token = replace(token, client_id=reg.client_id, client_secret=reg.client_secret, registration_expires_at=reg.expires_at)
    return token

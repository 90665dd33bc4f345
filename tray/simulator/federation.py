"""The AWS sign-in federation endpoint and a stand-in console, for role credentials the simulator issued.

`getSigninToken` takes the credentials as the `Session` JSON (`sessionId`, `sessionKey`, `sessionToken`)
and answers `{"SigninToken": …}` only when all three are exactly what GetRoleCredentials handed out and
have not expired; `login` redeems the sign-in token once, sets a console session cookie and redirects
to the destination. AWS console destinations (`…console.aws.amazon.com`, the China and GovCloud
consoles) land on the simulator's own `/console` page, which shows the account and role signed in.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

SIGNIN_TOKEN_LIFETIME = 900  # seconds, as AWS documents for sign-in tokens
COOKIE = "sim-console"
CONSOLE_HOSTS = ("console.aws.amazon.com", "console.amazonaws.cn", "console.amazonaws-us-gov.com")


class FederationError(Exception):
    """A request the federation endpoint refuses; the message says why (never with a secret in it)."""


@dataclass(frozen=True)
class Issued:
    secret_access_key: str
    session_token: str
    account_id: str
    role_name: str
    expiration: float  # epoch seconds on the simulator's clock


class Federation:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._issued: dict[str, Issued] = {}  # access key id -> what was issued with it
        self._signin_tokens: dict[str, tuple[Issued, float]] = {}
        self._consoles: dict[str, Issued] = {}  # console session cookie -> who is signed in

    def record(self, role_credentials: dict, account_id: str, role_name: str) -> None:
        """Remember credentials GetRoleCredentials handed out (its `roleCredentials` object)."""
        issued = Issued(role_credentials["secretAccessKey"], role_credentials["sessionToken"], account_id,
                        role_name, role_credentials["expiration"] / 1000)
        with self._lock:
            self._issued[role_credentials["accessKeyId"]] = issued

    def is_issued(self, access_key_id: str) -> bool:
        with self._lock:
            return access_key_id in self._issued

    def get_signin_token(self, session_json: str, now: float) -> str:
        try:
            session = json.loads(session_json)
            key, secret, token = session["sessionId"], session["sessionKey"], session["sessionToken"]
            if not all(isinstance(v, str) for v in (key, secret, token)):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise FederationError("Session must be a JSON object with sessionId, sessionKey and sessionToken") from None
        with self._lock:
            issued = self._issued.get(key)
            if (
                issued is None
                or not hmac.compare_digest(issued.secret_access_key, secret)
                or not hmac.compare_digest(issued.session_token, token)
            ):
                raise FederationError("The credentials in Session were not issued by this Identity Center")
            if issued.expiration <= now:
                raise FederationError("The credentials in Session have expired")
            signin_token = secrets.token_urlsafe(48)
            self._signin_tokens[signin_token] = (issued, now + SIGNIN_TOKEN_LIFETIME)
            return signin_token

    def login(self, signin_token: str, now: float) -> tuple[str, Issued]:
        """Redeem a sign-in token (once): a new console session cookie and who it signs in."""
        with self._lock:
            found = self._signin_tokens.pop(signin_token, None)
            if found is None or found[1] <= now:
                raise FederationError("The sign-in token is not valid or has expired")
            cookie = secrets.token_urlsafe(24)
            self._consoles[cookie] = found[0]
            return cookie, found[0]

    def console_user(self, cookie_header: str | None) -> Issued | None:
        for part in (cookie_header or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE:
                with self._lock:
                    return self._consoles.get(value)
        return None


def params(query: dict[str, str], body: bytes) -> dict[str, str]:
    """The request's parameters: the query string, and a form body (getSigninToken may be a POST)."""
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
    return {**query, **form}


def console_target(destination: str, base_url: str) -> str | None:
    """Where a login goes: an AWS console page becomes the simulator's stand-in, the simulator's own
    pages stay as they are; anything else is refused (None)."""
    parts = urlsplit(destination)
    host = (parts.hostname or "").lower()
    console = next((h for h in CONSOLE_HOSTS if host == h or host.endswith("." + h)), None)
    if parts.scheme == "https" and console:
        region = host[: -len(console) - 1]  # eu-west-1.console.aws.amazon.com
        query = parts.query or (f"region={region}" if region else "")
        return f"{base_url}/console{parts.path or '/'}" + (f"?{query}" if query else "")
    if destination.startswith(base_url + "/"):
        return destination
    return None

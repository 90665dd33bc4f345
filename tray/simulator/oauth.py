"""OAuth details shared by the store: PKCE, user codes, loopback redirect URIs (RFC 7636, 8628, 8252)."""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import urlencode, urlsplit

GRANT_DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
GRANT_REFRESH = "refresh_token"
GRANT_CODE = "authorization_code"
KNOWN_GRANTS = frozenset({GRANT_DEVICE, GRANT_REFRESH, GRANT_CODE})

USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"  # RFC 8628 §6.1: no vowels, no look-alikes
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
VERIFIER_PATTERN = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")  # RFC 7636 §4.1


def s256(verifier: str) -> str:
    """The PKCE S256 code challenge of ``verifier``."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def normalize_user_code(user_code: str) -> str:
    raw = re.sub(r"[\s\-]", "", user_code or "").upper()
    return f"{raw[:4]}-{raw[4:]}" if len(raw) == 8 else raw


def redirect_allowed(uri: str, registered: tuple[str, ...]) -> bool:
    """Exact match, or (RFC 8252 §7.3) a loopback http URI registered without regard to port."""
    if uri in registered:
        return True
    try:
        given = urlsplit(uri)
        given_port = given.port
    except ValueError:
        return False
    if given.scheme != "http" or given.hostname not in LOOPBACK_HOSTS or given.fragment:
        return False
    for candidate in registered:
        want = urlsplit(candidate)
        if (want.scheme, want.hostname, want.path or "/", want.query) == \
                (given.scheme, given.hostname, given.path or "/", given.query) and given_port is not None:
            return True
    return False


def add_query(uri: str, fields: dict[str, str], state: str | None) -> str:
    if state is not None:
        fields = {**fields, "state": state}
    separator = "&" if urlsplit(uri).query else "?"
    return uri + separator + urlencode(fields)

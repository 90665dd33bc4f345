"""The records the identity store keeps: clients, pending sign-ins, codes, sessions, tokens."""

from __future__ import annotations

from dataclasses import dataclass, field

from .oauth import GRANT_DEVICE, GRANT_REFRESH

# A client registered without grantTypes (the legacy device-flow registration) may use only this.
LEGACY_GRANTS = frozenset({GRANT_DEVICE})


@dataclass
class Client:
    client_id: str
    secret: str
    name: str
    scopes: tuple[str, ...]
    grant_types: frozenset[str] | None  # None: registered without grantTypes
    redirect_uris: tuple[str, ...]
    issued_at: float
    expires_at: float

    def allows(self, grant: str) -> bool:
        return grant in (self.grant_types if self.grant_types is not None else LEGACY_GRANTS)

    def gets_refresh_tokens(self) -> bool:
        return self.grant_types is not None and GRANT_REFRESH in self.grant_types


@dataclass
class DeviceAuthorization:
    device_code: str
    user_code: str
    client_id: str
    expires_at: float
    interval: int
    status: str = "pending"  # pending | approved | denied
    last_poll: float | None = None  # time.monotonic() of the last CreateToken poll


@dataclass
class AuthorizeRequest:
    request_id: str
    client_id: str
    client_name: str
    redirect_uri: str
    state: str | None
    code_challenge: str
    scopes: tuple[str, ...]
    expires_at: float


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    code_challenge: str
    expires_at: float


@dataclass
class Session:
    session_id: str
    client_id: str
    created: float
    revoked: bool = False


@dataclass
class AccessToken:
    session_id: str
    expires_at: float


@dataclass
class RefreshToken:
    session_id: str
    client_id: str
    revoked: bool = False


@dataclass
class AuthorizeOutcome:
    """What GET /authorize leads to: a redirect now, or a consent page for ``request``."""

    redirect: str | None = None
    request: AuthorizeRequest | None = None


@dataclass
class Tables:
    clients: dict[str, Client] = field(default_factory=dict)
    devices: dict[str, DeviceAuthorization] = field(default_factory=dict)  # by device code
    user_codes: dict[str, str] = field(default_factory=dict)  # user code -> device code
    requests: dict[str, AuthorizeRequest] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    access: dict[str, AccessToken] = field(default_factory=dict)
    refresh: dict[str, RefreshToken] = field(default_factory=dict)

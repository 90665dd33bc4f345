"""The identity store: client registrations, device codes, authorization codes, sign-in sessions
and tokens, with the rules of the sso-oidc service. No HTTP here: requests come in as the decoded
JSON bodies the model defines, answers go out as dicts, refusals as ``ApiError``.
"""

from __future__ import annotations

import hmac
import re
import secrets
import threading
import time
from urllib.parse import urlsplit

from .errors import oidc_error, unauthorized
from .oauth import (GRANT_CODE, GRANT_DEVICE, KNOWN_GRANTS, USER_CODE_ALPHABET, VERIFIER_PATTERN,
                    add_query, normalize_user_code, redirect_allowed, s256)
from .options import SimulatorOptions
from .records import (AccessToken, AuthCode, AuthorizeOutcome, AuthorizeRequest, Client,
                      DeviceAuthorization, RefreshToken, Session, Tables)

AUTH_CODE_LIFETIME = 300  # seconds an authorization code may be redeemed, once
AUTHORIZE_REQUEST_LIFETIME = 900  # seconds a consent page may be answered
_PURGE_EVERY = 30.0


class PageError(Exception):
    """A browser request that must end on an error page, never on a redirect."""


class IdentityStore:
    def __init__(self, options: SimulatorOptions) -> None:
        self.options = options
        self._lock = threading.RLock()
        self._offset = 0.0
        self._t = Tables()
        self._last_purge = time.monotonic()

    # -- clock -------------------------------------------------------------------------------

    def now(self) -> float:
        """Epoch seconds on the simulator's clock (real time plus ``advance``)."""
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the clock forward: everything issued ages by ``seconds``."""
        with self._lock:
            self._offset += float(seconds)

    # -- RegisterClient ----------------------------------------------------------------------

    def register_client(self, body: dict) -> dict:
        name = body.get("clientName")
        if not isinstance(name, str) or not name:
            raise oidc_error("InvalidRequestException", "clientName is required")
        if body.get("clientType") != "public":
            raise oidc_error("InvalidClientMetadataException", "clientType must be public")
        scopes = _str_list(body, "scopes")
        redirect_uris = _str_list(body, "redirectUris")
        grant_list = body.get("grantTypes")
        grants: frozenset[str] | None = None
        if grant_list is not None:
            grants = frozenset(_str_list(body, "grantTypes"))
            unknown = grants - KNOWN_GRANTS
            if unknown or not grants:
                raise oidc_error("UnsupportedGrantTypeException", "Unsupported grant type in grantTypes")
        for uri in redirect_uris:
            if not _valid_redirect(uri):
                raise oidc_error("InvalidRedirectUriException", "Invalid redirect URI")
        if grants is not None and GRANT_CODE in grants:
            if not redirect_uris:
                raise oidc_error("InvalidRedirectUriException",
                                 "redirectUris is required for the authorization_code grant")
            if not isinstance(body.get("issuerUrl"), str) or not body["issuerUrl"]:
                raise oidc_error("InvalidRequestException",
                                 "issuerUrl is required for the authorization_code grant")
        now = self.now()
        client = Client(
            client_id=secrets.token_urlsafe(16),
            secret=secrets.token_urlsafe(96),
            name=name,
            scopes=tuple(scopes),
            grant_types=grants,
            redirect_uris=tuple(redirect_uris),
            issued_at=now,
            expires_at=now + self.options.client_lifetime,
        )
        with self._lock:
            self._purge()
            self._t.clients[client.client_id] = client
        return {
            "clientId": client.client_id,
            "clientSecret": client.secret,
            "clientIdIssuedAt": int(client.issued_at),
            "clientSecretExpiresAt": int(client.expires_at),
        }

    def _authenticate_client(self, body: dict) -> Client:
        client_id, secret = body.get("clientId"), body.get("clientSecret")
        with self._lock:
            client = self._t.clients.get(client_id) if isinstance(client_id, str) else None
        if client is None or not isinstance(secret, str) or not hmac.compare_digest(
            secret.encode(), client.secret.encode()
        ):
            raise oidc_error("InvalidClientException", "Invalid client")
        if self.now() >= client.expires_at:
            raise oidc_error("InvalidClientException", "Client registration has expired")
        return client

    # -- StartDeviceAuthorization ------------------------------------------------------------

    def start_device_authorization(self, body: dict, base_url: str) -> dict:
        client = self._authenticate_client(body)
        start_url = body.get("startUrl")
        if not isinstance(start_url, str) or not start_url:
            raise oidc_error("InvalidRequestException", "startUrl is required")
        if not client.allows(GRANT_DEVICE):
            raise oidc_error("UnauthorizedClientException",
                             "Client is not registered for the device code grant")
        opts = self.options
        with self._lock:
            self._purge()
            user_code = self._new_user_code()
            device = DeviceAuthorization(
                device_code=secrets.token_urlsafe(48),
                user_code=user_code,
                client_id=client.client_id,
                expires_at=self.now() + opts.device_code_lifetime,
                interval=opts.device_interval,
                status="approved" if opts.auto_approve else "pending",
            )
            self._t.devices[device.device_code] = device
            self._t.user_codes[user_code] = device.device_code
        return {
            "deviceCode": device.device_code,
            "userCode": user_code,
            "verificationUri": f"{base_url}/device",
            "verificationUriComplete": f"{base_url}/device?user_code={user_code}",
            "expiresIn": opts.device_code_lifetime,
            "interval": opts.device_interval,
        }

    def _new_user_code(self) -> str:
        while True:
            raw = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))
            code = f"{raw[:4]}-{raw[4:]}"
            if code not in self._t.user_codes:
                return code

    def pending_device_codes(self) -> list[str]:
        now = self.now()
        with self._lock:
            return [d.user_code for d in self._t.devices.values()
                    if d.status == "pending" and now < d.expires_at]

    def device_client_name(self, user_code: str) -> str | None:
        """The name of the client behind a pending user code, or None."""
        with self._lock:
            device = self._pending_device(user_code)
            client = self._t.clients.get(device.client_id) if device else None
            return client.name if client else None

    def approve_device(self, user_code: str, allow: bool = True) -> bool:
        """Answer a pending device sign-in; False when the code is unknown, answered or expired."""
        with self._lock:
            device = self._pending_device(user_code)
            if device is None:
                return False
            device.status = "approved" if allow else "denied"
            return True

    def _pending_device(self, user_code: str) -> DeviceAuthorization | None:
        code = normalize_user_code(user_code)
        device = self._t.devices.get(self._t.user_codes.get(code, ""))
        if device is None or device.status != "pending" or self.now() >= device.expires_at:
            return None
        return device

    # -- /authorize (the browser side of the authorization-code grant) -----------------------

    def begin_authorize(self, params: dict[str, str]) -> AuthorizeOutcome:
        with self._lock:
            client = self._t.clients.get(params.get("client_id", ""))
        if client is None or self.now() >= client.expires_at:
            raise PageError("The application asking to sign in is not registered (unknown client_id).")
        if not client.allows(GRANT_CODE):
            raise PageError("The application is not registered for the authorization code grant.")
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_allowed(redirect_uri, client.redirect_uris):
            raise PageError("The redirect_uri is not one the application registered.")
        state = params.get("state")

        def refuse(error: str, description: str) -> AuthorizeOutcome:
            fields = {"error": error, "error_description": description}
            return AuthorizeOutcome(redirect=add_query(redirect_uri, fields, state))

        if params.get("response_type") != "code":
            return refuse("unsupported_response_type", "response_type must be code")
        if params.get("code_challenge_method") != "S256":
            return refuse("invalid_request", "code_challenge_method must be S256")
        challenge = params.get("code_challenge", "")
        if not challenge:
            return refuse("invalid_request", "code_challenge is required")
        scopes = tuple(s for s in re.split(r"[\s,]+", params.get("scopes") or params.get("scope") or "") if s)
        if client.scopes and not set(scopes) <= set(client.scopes):
            return refuse("invalid_scope", "A requested scope was not registered by the client")
        request = AuthorizeRequest(
            request_id=secrets.token_urlsafe(24),
            client_id=client.client_id,
            client_name=client.name,
            redirect_uri=redirect_uri,
            state=state,
            code_challenge=challenge,
            scopes=scopes,
            expires_at=self.now() + AUTHORIZE_REQUEST_LIFETIME,
        )
        if self.options.auto_approve:
            return AuthorizeOutcome(redirect=self._grant_code(request))
        with self._lock:
            self._purge()
            self._t.requests[request.request_id] = request
        return AuthorizeOutcome(request=request)

    def decide_authorize(self, request_id: str, allow: bool) -> str:
        """Answer a consent page; returns the URL to redirect the browser to."""
        with self._lock:
            request = self._t.requests.pop(request_id, None)
        if request is None or self.now() >= request.expires_at:
            raise PageError("This sign-in request has expired or was already answered.")
        if not allow:
            fields = {"error": "access_denied", "error_description": "The person denied the request"}
            return add_query(request.redirect_uri, fields, request.state)
        return self._grant_code(request)

    def _grant_code(self, request: AuthorizeRequest) -> str:
        code = secrets.token_urlsafe(32)
        record = AuthCode(request.client_id, request.redirect_uri, request.code_challenge,
                          self.now() + AUTH_CODE_LIFETIME)
        with self._lock:
            self._t.codes[code] = record
        return add_query(request.redirect_uri, {"code": code}, request.state)

    # -- CreateToken ---------------------------------------------------------------------------

    def create_token(self, body: dict) -> dict:
        client = self._authenticate_client(body)
        grant = body.get("grantType")
        if not isinstance(grant, str) or not grant:
            raise oidc_error("InvalidRequestException", "grantType is required")
        if grant not in KNOWN_GRANTS:
            raise oidc_error("UnsupportedGrantTypeException", "Unsupported grant type")
        if not client.allows(grant):
            raise oidc_error("UnauthorizedClientException", "Client is not registered for this grant type")
        if grant == GRANT_DEVICE:
            return self._token_from_device_code(client, body)
        if grant == GRANT_CODE:
            return self._token_from_auth_code(client, body)
        return self._token_from_refresh_token(client, body)

    def _token_from_device_code(self, client: Client, body: dict) -> dict:
        device_code = _required(body, "deviceCode")
        with self._lock:
            device = self._t.devices.get(device_code)
            if device is None or device.client_id != client.client_id:
                raise oidc_error("InvalidGrantException", "Invalid device code provided")
            if self.now() >= device.expires_at:
                raise oidc_error("ExpiredTokenException", "Device code has expired")
            polled = time.monotonic()
            previous, device.last_poll = device.last_poll, polled
            if previous is not None and polled - previous < device.interval - 0.01:
                raise oidc_error("SlowDownException", "Client is polling too fast")
            if device.status == "pending":
                raise oidc_error("AuthorizationPendingException", "Authorization is still pending")
            self._forget_device(device)
            if device.status == "denied":
                raise oidc_error("AccessDeniedException", "The person denied the request")
            return self._open_session(client)

    def _forget_device(self, device: DeviceAuthorization) -> None:
        self._t.devices.pop(device.device_code, None)
        self._t.user_codes.pop(device.user_code, None)

    def _token_from_auth_code(self, client: Client, body: dict) -> dict:
        code = _required(body, "code")
        with self._lock:
            record = self._t.codes.pop(code, None)  # single use, whatever happens next
        if record is None or self.now() >= record.expires_at:
            raise oidc_error("InvalidGrantException", "Invalid authorization code provided")
        if record.client_id != client.client_id:
            raise oidc_error("InvalidGrantException", "The authorization code was issued to another client")
        if body.get("redirectUri") != record.redirect_uri:
            raise oidc_error("InvalidGrantException", "redirectUri does not match the authorization request")
        verifier = body.get("codeVerifier")
        if not isinstance(verifier, str) or not VERIFIER_PATTERN.match(verifier):
            raise oidc_error("InvalidGrantException", "codeVerifier is missing or malformed")
        if not hmac.compare_digest(s256(verifier), record.code_challenge):
            raise oidc_error("InvalidGrantException", "codeVerifier does not match the code challenge")
        with self._lock:
            return self._open_session(client)

    def _token_from_refresh_token(self, client: Client, body: dict) -> dict:
        token = _required(body, "refreshToken")
        with self._lock:
            record = self._t.refresh.get(token)
            if record is None or record.revoked or record.client_id != client.client_id:
                raise oidc_error("InvalidGrantException", "Invalid refresh token provided")
            session = self._t.sessions.get(record.session_id)
            if session is None or not self._alive(session):
                raise oidc_error("InvalidGrantException", "The sign-in session has ended")
            if self.options.rotate_refresh_tokens:
                record.revoked = True
            return self._issue(session, client)

    # -- sessions and tokens (call with the lock held) ------------------------------------------

    def _open_session(self, client: Client) -> dict:
        self._purge()
        session = Session(secrets.token_hex(8), client.client_id, self.now())
        self._t.sessions[session.session_id] = session
        return self._issue(session, client)

    def _session_end(self, session: Session) -> float:
        return session.created + self.options.session_lifetime

    def _alive(self, session: Session) -> bool:
        return not session.revoked and self.now() < self._session_end(session)

    def _issue(self, session: Session, client: Client) -> dict:
        now = self.now()
        lifetime = max(1, round(min(self.options.token_lifetime, self._session_end(session) - now)))
        access = "aoa" + secrets.token_urlsafe(96)
        self._t.access[access] = AccessToken(session.session_id, now + lifetime)
        answer: dict = {"accessToken": access, "tokenType": "Bearer", "expiresIn": lifetime}
        if self.options.refresh_tokens and client.gets_refresh_tokens():
            refresh = "aor" + secrets.token_urlsafe(96)
            self._t.refresh[refresh] = RefreshToken(session.session_id, client.client_id)
            answer["refreshToken"] = refresh
        return answer

    def authenticate(self, access_token: str | None) -> Session:
        """The live session behind a bearer token, or 401 UnauthorizedException."""
        with self._lock:
            record = self._t.access.get(access_token or "")
            session = self._t.sessions.get(record.session_id) if record else None
            if record is None or session is None or self.now() >= record.expires_at \
                    or not self._alive(session):
                raise unauthorized()
            return session

    def logout(self, access_token: str | None) -> None:
        """Ends the session of the token: it, its sibling access tokens and its refresh tokens."""
        with self._lock:
            self.authenticate(access_token).revoked = True

    def revoke_all_tokens(self) -> None:
        with self._lock:
            for session in self._t.sessions.values():
                session.revoked = True

    def forget_clients(self) -> None:
        """Forget every client registration, as Identity Center may: authorize then answers 400 and the
        OIDC calls InvalidClientException (renewals too); access tokens already issued keep working."""
        with self._lock:
            self._t.clients.clear()

    # -- housekeeping -------------------------------------------------------------------------

    def _purge(self) -> None:
        """Drop what can no longer be used, at most every few seconds (lock held)."""
        mono = time.monotonic()
        if mono - self._last_purge < _PURGE_EVERY:
            return
        self._last_purge = mono
        now, t = self.now(), self._t
        grace = 600  # keep expired device codes a while, so late polls still hear expired_token
        for device in [d for d in t.devices.values() if now >= d.expires_at + grace]:
            self._forget_device(device)
        t.clients = {k: c for k, c in t.clients.items() if now < c.expires_at}
        t.requests = {k: r for k, r in t.requests.items() if now < r.expires_at}
        t.codes = {k: c for k, c in t.codes.items() if now < c.expires_at}
        t.sessions = {k: s for k, s in t.sessions.items() if self._alive(s)}
        t.access = {k: a for k, a in t.access.items()
                    if now < a.expires_at and a.session_id in t.sessions}
        t.refresh = {k: r for k, r in t.refresh.items() if not r.revoked and r.session_id in t.sessions}


def _valid_redirect(uri: str) -> bool:
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.fragment


def _str_list(body: dict, name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise oidc_error("InvalidRequestException", f"{name} must be a list of strings")
    return value


def _required(body: dict, name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise oidc_error("InvalidRequestException", f"{name} is required")
    return value

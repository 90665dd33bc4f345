"""The AWS sign-in service that `aws login` (AWS CLI v2 2.32+) and botocore's `LoginProvider` talk to.

- `GET /v1/authorize` (response_type=code, client_id `arn:aws:signin:::devtools/same-device` or `…/cross-device`,
  state, code_challenge_method=SHA-256, code_challenge, scope=openid, redirect_uri): the person is taken as signed
  in to the console and agreeing, so it answers with the code at once: a redirect to the loopback callback
  (same device), or the confirmation page that shows the code to paste (cross device,
  `<endpoint>/v1/sessions/confirmation`, the code being base64 of `state=…&code=…`).
- `POST /v1/token` (CreateOAuth2Token, botocore's `signin` model): the `authorization_code` grant (PKCE, the
  same client and redirect URI, each code once) and the `refresh_token` grant (refresh tokens rotate: a used
  one is refused). Every call needs a DPoP proof (RFC 9449) in the `DPoP` header, as botocore signs it: an
  ES256 JWT whose header carries the P-256 public key; `htm` POST, `htu` this URL, `iat` within 5 minutes of the
  wall clock (botocore stamps it so), a `jti` never seen before. A sign-in is bound to its key: a refresh must
  be signed by the key the code was exchanged with.
- Credentials last `login_credential_lifetime` (900 s, as AWS gives them), the sign-in `login_session_lifetime`.

Signatures are checked with awscrt, the library botocore's own DPoP signer uses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
import threading
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlencode, urlsplit

from .errors import ApiError

SAME_DEVICE = "arn:aws:signin:::devtools/same-device"
CROSS_DEVICE = "arn:aws:signin:::devtools/cross-device"
CONFIRMATION_PATH = "/v1/sessions/confirmation"
CODE_LIFETIME = 300.0
PROOF_AGE = 300  # seconds a DPoP proof's iat may differ from the wall clock
_P256_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")


def signin_error(error_type: str, error: str, message: str) -> ApiError:
    """The signin model's errors: `{"error": <OAuth2ErrorCode>, "message": …}`, the name in x-amzn-ErrorType."""
    status = {"AccessDeniedException": 403, "ValidationException": 400, "TooManyRequestsError": 429}.get(error_type, 500)
    return ApiError(status, error_type, {"error": error, "message": message})


class AuthorizeRefused(Exception):
    """An authorize request the page refuses; the message says why."""


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    expires: float


@dataclass
class _Session:
    principal: str
    key_thumbprint: str  # the DPoP key the sign-in is bound to
    ends: float


class SigninService:
    def __init__(self, now: Callable[[], float], principal: Callable[[], str],
                 credential_lifetime: Callable[[], int], session_lifetime: Callable[[], int]) -> None:
        self._now = now
        self._principal = principal
        self._credential_lifetime = credential_lifetime
        self._session_lifetime = session_lifetime
        self._lock = threading.Lock()
        self._codes: dict[str, _Code] = {}
        self._refresh_tokens: dict[str, _Session] = {}
        self._seen_jti: dict[str, float] = {}
        self._issued: set[str] = set()
        self.refusals: list[str] = []  # why each refused CreateOAuth2Token was refused, oldest first

    # -- /v1/authorize -----------------------------------------------------------------------------

    def authorize(self, params: dict[str, str], base_url: str) -> str:
        """Where the browser goes next: the redirect URI with the code and state."""
        client_id = params.get("client_id", "")
        redirect_uri = params.get("redirect_uri", "")
        if params.get("response_type") != "code":
            raise AuthorizeRefused("response_type must be code")
        if client_id not in (SAME_DEVICE, CROSS_DEVICE):
            raise AuthorizeRefused("client_id is not a developer-tools client")
        if params.get("code_challenge_method") != "SHA-256" or not params.get("code_challenge"):
            raise AuthorizeRefused("a SHA-256 code_challenge is required")
        if params.get("scope") != "openid" or not params.get("state"):
            raise AuthorizeRefused("scope openid and a state are required")
        if client_id == SAME_DEVICE:
            parts = urlsplit(redirect_uri)
            if parts.scheme != "http" or parts.hostname != "127.0.0.1" or parts.path != "/oauth/callback":
                raise AuthorizeRefused("the same-device redirect_uri must be http://127.0.0.1:PORT/oauth/callback")
        elif redirect_uri != base_url + CONFIRMATION_PATH:
            raise AuthorizeRefused(f"the cross-device redirect_uri must be {base_url}{CONFIRMATION_PATH}")
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Code(client_id, redirect_uri, params["code_challenge"], self._now() + CODE_LIFETIME)
        return f"{redirect_uri}?{urlencode({'code': code, 'state': params['state']})}"

    @staticmethod
    def verification_code(query: dict[str, str]) -> str:
        """What the cross-device confirmation page shows the person to paste."""
        return base64.b64encode(urlencode({"state": query.get("state", ""), "code": query.get("code", "")}).encode()).decode()

    # -- CreateOAuth2Token ---------------------------------------------------------------------------

    def create_token(self, body: dict, proof: str | None, htu: str) -> dict:
        try:
            thumbprint, jti, iat = _check_proof(proof, htu)
            with self._lock:
                self._forget_old_jti()
                if jti in self._seen_jti:
                    raise _refused("ValidationException", "invalid_request", "the DPoP proof's jti was used before")
                self._seen_jti[jti] = iat
                grant = body.get("grantType")
                if grant == "authorization_code":
                    return self._from_code(body, thumbprint)
                if grant == "refresh_token":
                    return self._from_refresh_token(body, thumbprint)
                raise _refused("ValidationException", "unsupported_grant_type", "grantType must be authorization_code or refresh_token")
        except _Refusal as refusal:
            with self._lock:
                self.refusals.append(refusal.error.body["message"])
            raise refusal.error from None

    def _from_code(self, body: dict, thumbprint: str) -> dict:
        code = self._codes.pop(str(body.get("code", "")), None)
        if code is None or code.expires <= self._now():
            raise _refused("AccessDeniedException", "AUTHCODE_EXPIRED", "the authorization code is not valid or has expired")
        if body.get("clientId") != code.client_id or body.get("redirectUri") != code.redirect_uri:
            raise _refused("ValidationException", "invalid_grant", "clientId and redirectUri must be those of the authorize request")
        verifier = str(body.get("codeVerifier", ""))
        expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        if not hmac.compare_digest(expected, code.challenge.rstrip("=")):
            raise _refused("ValidationException", "invalid_grant", "the code verifier does not match the code challenge")
        session = _Session(self._principal(), thumbprint, self._now() + self._session_lifetime())
        return self._issue(session, code.client_id, with_id_token=True)

    def _from_refresh_token(self, body: dict, thumbprint: str) -> dict:
        token = str(body.get("refreshToken", ""))
        session = self._refresh_tokens.get(token)
        if session is None or session.ends <= self._now():
            raise _refused("AccessDeniedException", "TOKEN_EXPIRED", "the refresh token is not valid or has expired: sign in again")
        if not hmac.compare_digest(session.key_thumbprint, thumbprint):
            raise _refused("ValidationException", "invalid_request", "the DPoP proof is not signed by the key this sign-in is bound to")
        del self._refresh_tokens[token]  # refresh tokens rotate: this one is spent
        return self._issue(session, str(body.get("clientId", "")), with_id_token=False)

    def _issue(self, session: _Session, client_id: str, with_id_token: bool) -> dict:
        access_key = "ASIA" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16))
        refresh_token = "sim-login-refresh-" + secrets.token_urlsafe(32)
        self._refresh_tokens[refresh_token] = session
        self._issued.add(access_key)
        output = {
            "accessToken": {
                "accessKeyId": access_key,
                "secretAccessKey": secrets.token_urlsafe(30),
                "sessionToken": "sim-login-session-" + secrets.token_urlsafe(48),
            },
            "tokenType": "aws_sigv4",
            "expiresIn": min(self._credential_lifetime(), max(1, int(session.ends - self._now()))),
            "refreshToken": refresh_token,
        }
        if with_id_token:
            now = int(self._now())
            claims = {"sub": session.principal, "aud": client_id, "iat": now, "exp": now + 900}
            output["idToken"] = ".".join(_b64url(json.dumps(part).encode()) for part in ({"alg": "none", "typ": "JWT"}, claims)) + ".c2lt"
        return output  # the model makes tokenOutput the payload: the body is the structure itself

    def _forget_old_jti(self) -> None:
        horizon = time.time() - 2 * PROOF_AGE
        for jti in [j for j, iat in self._seen_jti.items() if iat < horizon]:
            del self._seen_jti[jti]

    # -- what tests look at ---------------------------------------------------------------------------

    def issued(self, access_key_id: str) -> bool:
        with self._lock:
            return access_key_id in self._issued

    def end_sessions(self) -> None:
        """End every sign-in: refresh tokens stop working (as signing out of the console everywhere does)."""
        with self._lock:
            self._refresh_tokens.clear()


class _Refusal(Exception):
    def __init__(self, error: ApiError) -> None:
        super().__init__(error.body["message"])
        self.error = error


def _refused(error_type: str, error: str, message: str) -> _Refusal:
    return _Refusal(signin_error(error_type, error, message))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _check_proof(proof: str | None, htu: str) -> tuple[str, str, float]:
    """(the key's RFC 7638 thumbprint, jti, iat) of a valid DPoP proof for POST `htu`; _Refusal otherwise."""
    def bad(why: str) -> _Refusal:
        return _refused("ValidationException", "invalid_request", f"DPoP proof refused: {why}")

    if not proof:
        raise bad("no DPoP header")
    try:
        header_b64, payload_b64, signature_b64 = proof.split(".")
        header = json.loads(_b64url_decode(header_b64))
        payload = json.loads(_b64url_decode(payload_b64))
        signature = _b64url_decode(signature_b64)
        jwk = header["jwk"]
        x, y = _b64url_decode(jwk["x"]), _b64url_decode(jwk["y"])
    except (ValueError, KeyError, TypeError):
        raise bad("not a JWT with a jwk header") from None
    if header.get("typ") != "dpop+jwt" or header.get("alg") != "ES256":
        raise bad("typ must be dpop+jwt and alg ES256")
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or len(x) != 32 or len(y) != 32 or len(signature) != 64:
        raise bad("the key must be an EC P-256 key and the signature 64 bytes")
    if not _signature_valid(x, y, f"{header_b64}.{payload_b64}".encode(), signature):
        raise bad("the signature does not verify")
    if payload.get("htm") != "POST":
        raise bad("htm must be POST")
    if payload.get("htu") != htu:
        raise bad(f"htu must be {htu}")
    iat = payload.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, (int, float)) or abs(time.time() - iat) > PROOF_AGE:
        raise bad("iat is missing or more than 5 minutes from now")
    jti = payload.get("jti")
    if not isinstance(jti, str) or not jti:
        raise bad("jti is missing")
    members = json.dumps({"crv": "P-256", "kty": "EC", "x": jwk["x"], "y": jwk["y"]}, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(members.encode()).digest()), jti, float(iat)


def _signature_valid(x: bytes, y: bytes, signed: bytes, signature: bytes) -> bool:
    from awscrt.crypto import EC, ECRawSignature

    try:
        key = EC.new_key_from_der_data(_P256_SPKI_PREFIX + b"\x04" + x + y)
        der = EC.encode_raw_signature(ECRawSignature(r=signature[:32], s=signature[32:]))
        return key.verify(hashlib.sha256(signed).digest(), der)
    except (ValueError, RuntimeError):
        return False


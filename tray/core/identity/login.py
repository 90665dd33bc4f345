"""`aws login` sessions (AWS CLI v2 2.32+, botocore 1.41+): console sign-in credentials, beside SSO sessions.

A profile with `login_session = <ARN>` takes its credentials from `<login cache>/<sha256(ARN)>.json`, the
AWS CLI's own file, read and written both ways in its format: `accessToken` (`accessKeyId`, `secretAccessKey`,
`sessionToken`, `accountId`, `expiresAt`), `tokenType`, `clientId`, `refreshToken`, `idToken` and `dpopKey` (the
PEM P-256 key that signs each DPoP proof). The credentials last 15 minutes; they are refreshed by botocore's own
`LoginCredentialFetcher` (the `signin` service's CreateOAuth2Token with a DPoP proof, the file rewritten by
botocore's own cache writer), which first adopts what another program (the AWS CLI, an SDK) already refreshed.

The sign-in is the AWS CLI's (`awscli/customizations/login/`): PKCE against `<sign-in endpoint>/v1/authorize`
with a loopback redirect (same device), or the cross-device flow where the person pastes the code the page shows.
`logout` removes the cache file, as `aws logout` does (there is no sign-out call).

What it needs: botocore 1.41 or newer (its `LoginCredentialFetcher` and the `signin` model) and `awscrt`
(`botocore[crt]`: botocore's DPoP signer is awscrt's EC). Reading the cache (status, cached credentials) needs
neither; with an older botocore or no awscrt, a refresh or sign-in says so in one line.

For the tray's engine: `login_status` (status and time left, renewing when due unless told not to), `renew`,
`credentials` (what export, write, credential-process and exec hand out), `sign_in`, `logout`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import string
import textwrap
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit

from tray.core.credentials import RoleCredentials, format_time, parse_time, utcnow
from tray.core.errors import AwsError, ConfigError, NotSignedIn, TrayError, UsageError
from tray.core.files.fileio import file_lock, write_json
from tray.core.identity.config import LoginProfile
from tray.core.identity.tokens import read_cache_file

SAME_DEVICE = "arn:aws:signin:::devtools/same-device"
CROSS_DEVICE = "arn:aws:signin:::devtools/cross-device"
CONFIRMATION_PATH = "/v1/sessions/confirmation"
# botocore's LoginCredentialFetcher refreshes inside 5 minutes of expiry (the credentials last 15): so does sso-tray.
REFRESH_WINDOW = timedelta(minutes=5)
NEEDS = "aws login sessions need botocore 1.41 or newer with awscrt: pip install -U 'botocore[crt]>=1.41'"

SIGNED_OUT, VALID, EXPIRED = "signed_out", "valid", "expired"


@dataclass(frozen=True)
class LoginToken:
    """The cache file's body (`body`, kept whole so a rewrite loses nothing) and what sso-tray reads from it."""

    body: dict = field(repr=False)
    expires_at: datetime

    def __repr__(self) -> str:  # no secret may reach a log or traceback
        return f"LoginToken(expires_at={format_time(self.expires_at)}, refreshable={self.refreshable})"

    @property
    def account_id(self) -> str | None:
        return self.body["accessToken"].get("accountId")

    @property
    def refreshable(self) -> bool:
        return all(self.body.get(k) for k in ("refreshToken", "clientId", "dpopKey"))

    def credentials(self) -> RoleCredentials:
        access = self.body["accessToken"]
        return RoleCredentials(access["accessKeyId"], access["secretAccessKey"], access["sessionToken"], self.expires_at, self.account_id)


def read_token(profile: LoginProfile) -> LoginToken | None:
    """The cached login token, or None when there is none; NotSignedIn (CorruptTokenCache) when the file
    cannot be used. Read as the SSO token cache is (`tokens.read_cache_file`): a half-written file is read again."""
    return read_cache_file(profile.cache_path, _login_token, "login", profile.login_hint)


def _login_token(body: dict) -> LoginToken:
    access = body["accessToken"]
    for key in ("accessKeyId", "secretAccessKey", "sessionToken"):
        if not isinstance(access[key], str):
            raise TypeError(key)
    return LoginToken(body, parse_time(access["expiresAt"]))


@dataclass(frozen=True)
class LoginStatus:
    profile: LoginProfile
    state: str  # SIGNED_OUT, VALID or EXPIRED (of the credentials; a refreshable one renews itself)
    expires_at: datetime | None = None
    refreshable: bool = False
    problem: str | None = None
    account_id: str | None = None

    @property
    def session(self) -> LoginProfile:
        """The profile, under the name SessionStatus gives its session: status shows both kinds alike."""
        return self.profile

    def lasts(self, now: datetime, duration: timedelta) -> bool:
        """Usable for `duration` from `now`: by its credentials' expiry, or because it refreshes itself (the end
        of the sign-in itself is not in the cache file: a refusal of the refresh is the first sign of it)."""
        return self.state == VALID and (self.expires_at - now >= duration or self.refreshable)

    def to_json(self, now: datetime) -> dict:
        return {
            "name": self.profile.name,
            "kind": "login",
            "login_session": self.profile.login_session,
            "account_id": self.account_id,
            "region": self.profile.region,
            "status": self.state,
            "expires_at": format_time(self.expires_at) if self.expires_at else None,
            "seconds_left": max(0, int((self.expires_at - now).total_seconds())) if self.state == VALID else None,
            "refreshable": self.refreshable,
            "problem": self.problem,
        }


def login_status(profile: LoginProfile, now: datetime | None = None, *, renew_due: bool = True) -> tuple[LoginStatus, LoginToken | None]:
    """The profile's status and its usable token (None unless valid). Renews when due, unless told not to."""
    now = now or utcnow()
    try:
        token = read_token(profile)
    except NotSignedIn as e:
        return LoginStatus(profile, SIGNED_OUT, problem=str(e)), None
    if token is None:
        return LoginStatus(profile, SIGNED_OUT), None
    problem = None
    if renew_due and token.refreshable and token.expires_at - now <= REFRESH_WINDOW:
        try:
            token = renew(profile, now)
        except TrayError as e:
            problem = f"could not renew: {e}"
    state = VALID if token.expires_at > now else EXPIRED
    refreshable = token.refreshable and problem is None
    status = LoginStatus(profile, state, token.expires_at, refreshable, problem, token.account_id)
    return status, token if state == VALID else None


def credentials(profile: LoginProfile, now: datetime | None = None) -> RoleCredentials:
    """Credentials with more than botocore's 5-minute window left: the cached ones, else refreshed."""
    now = now or utcnow()
    token = read_token(profile)
    if token is None:
        raise NotSignedIn(f"not signed in for profile {profile.name}; sign in with: {profile.login_hint}")
    if token.expires_at - now > REFRESH_WINDOW:
        return token.credentials()
    if not token.refreshable:
        raise NotSignedIn(f"the login of profile {profile.name} expired at {format_time(token.expires_at)}; sign in again: {profile.login_hint}")
    return renew(profile, now).credentials()  # its failure says itself: the sign-in ended (3), the network (4)


def renew(profile: LoginProfile, now: datetime | None = None) -> LoginToken:
    """Refresh through botocore's LoginCredentialFetcher, under the cache file's lock (one refresh across
    sso-tray processes); a token another program refreshed already is adopted without a call."""
    now = now or utcnow()
    fetcher_class, loader_class, cache_class = _botocore_login()
    with file_lock(profile.cache_path, timeout=5):
        token = read_token(profile)
        if token is None:
            raise NotSignedIn(f"not signed in for profile {profile.name}; sign in with: {profile.login_hint}")
        if token.expires_at - now > REFRESH_WINDOW:
            return token
        if not token.refreshable:
            raise NotSignedIn(f"the login of profile {profile.name} cannot be refreshed; sign in again: {profile.login_hint}")
        region = _region(profile)
        fetcher = fetcher_class(
            session_name=profile.login_session,
            token_loader=loader_class(cache_class(str(profile.cache_path.parent))),
            client_creator=lambda service, **kwargs: _signin_client(kwargs.get("region_name") or region),
            time_fetcher=lambda: now,
        )
        with _translated(f"refreshing the login of profile {profile.name}", profile):
            fetcher.refresh_credentials()
        renewed = read_token(profile)
    if renewed is None:
        raise NotSignedIn(f"the login of profile {profile.name} was removed while it was refreshed; sign in again: {profile.login_hint}")
    return renewed


# --- sign-in and sign-out ----------------------------------------------------------------------------


@dataclass
class LoginOptions:
    remote: bool = False  # the cross-device flow: the person pastes the code the page shows
    open_browser: bool = True
    timeout: float = 600.0
    prompt: Callable[[str], None] = lambda message: None
    read_code: Callable[[str], str] = input  # asks for the cross-device code
    cancel: threading.Event | None = None
    opener: Callable[[str], None] | None = None
    clock: Callable[[], datetime] = utcnow


def sign_in(profile: LoginProfile, options: LoginOptions | None = None) -> tuple[LoginProfile, LoginToken]:
    """Sign in as `aws login` does and write the cache the AWS CLI reads. Returns the profile (its
    `login_session` is who signed in: a different person than before is written back to the config) and token."""
    from tray.core.identity import signin  # the loopback callback, the browser and the waits of SSO sign-ins

    options = options or LoginOptions()
    crt = _crt()
    dpop_handler = _botocore_dpop_handler()
    client = _signin_client(_region(profile))
    base = _base_endpoint(client)
    key = crt.EC.new_generate(crt.ECType.P_256)
    verifier = "".join(secrets.choice(string.ascii_letters + string.digits + "-._~") for _ in range(64))
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    state = str(uuid.uuid4())
    client_id = CROSS_DEVICE if options.remote else SAME_DEVICE
    what = f"signing in for profile {profile.name}"
    if options.remote:
        redirect_uri = base + CONFIRMATION_PATH
        options.prompt(f"Open this URL in a browser on any device and sign in:\n{_authorize_url(base, client_id, state, challenge, redirect_uri)}")
        code = _code_from_verification(options.read_code("Enter the authorization code displayed in your browser: "), state, what)
    else:
        callback = signin._Callback(state)
        redirect_uri = callback.redirect_uri
        try:
            signin._open(_authorize_url(base, client_id, state, challenge, redirect_uri), signin.SignInOptions(
                open_browser=options.open_browser, prompt=options.prompt, opener=options.opener), "AWS sign-in")
            deadline = time.monotonic() + options.timeout
            while not callback.done.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise NotSignedIn(f"{what}: timed out after {options.timeout:.0f} s with no answer from the browser")
                signin._wait(signin.SignInOptions(cancel=options.cancel), min(left, signin.WAKE_INTERVAL), callback.done)
        finally:
            callback.close()
        if callback.code is None:
            raise NotSignedIn(f"{what}: the sign-in was refused in the browser ({callback.error})")
        code = callback.code
    client.meta.events.register("before-call.signin.CreateOAuth2Token", dpop_handler(key))
    now = options.clock()
    body = {"clientId": client_id, "grantType": "authorization_code", "code": code, "codeVerifier": verifier, "redirectUri": redirect_uri}
    with _translated(what, profile):
        output = client.create_o_auth2_token(tokenInput=body)["tokenOutput"]
    login_session = _subject(output.get("idToken", ""), what)
    cache = {
        "accessToken": {
            "accessKeyId": output["accessToken"]["accessKeyId"],
            "secretAccessKey": output["accessToken"]["secretAccessKey"],
            "sessionToken": output["accessToken"]["sessionToken"],
            "accountId": login_session.split(":")[4],
            "expiresAt": format_time(now + timedelta(seconds=int(output["expiresIn"]))),
        },
        "tokenType": output["tokenType"],
        "clientId": client_id,
        "refreshToken": output["refreshToken"],
        "idToken": output["idToken"],
        "dpopKey": _pem(key.export_key(crt.ECExportFormat.SEC1)),
    }
    signed_in = profile._replace(login_session=login_session)
    with file_lock(signed_in.cache_path, timeout=60):
        write_json(signed_in.cache_path, cache)
    if login_session != profile.login_session:
        from tray.core.files.configwrite import write_login_session

        write_login_session(profile.name, login_session)
        options.prompt(f"Profile {profile.name} now uses the login of {login_session} (was {profile.login_session}).")
    return signed_in, read_token(signed_in)


def logout(profile: LoginProfile) -> bool:
    """Remove the cached login, as `aws logout` does; False when there was none. Credentials handed out
    already last until they expire (at most 15 minutes)."""
    with file_lock(profile.cache_path, timeout=60):
        try:
            profile.cache_path.unlink()
            return True
        except FileNotFoundError:
            return False


# --- botocore and awscrt -----------------------------------------------------------------------------


def _botocore_login():
    try:
        from botocore.credentials import LoginCredentialFetcher
        from botocore.utils import JSONFileCache, LoginTokenLoader
    except ImportError:
        import botocore

        raise AwsError(f"{NEEDS} (this is botocore {botocore.__version__})") from None
    _crt()
    return LoginCredentialFetcher, LoginTokenLoader, JSONFileCache


def _crt():
    try:
        import awscrt.crypto as crt
    except ImportError:
        raise AwsError(f"{NEEDS} (awscrt is not installed)") from None
    return crt


def _botocore_dpop_handler():
    """botocore's own DPoP signer (the one its LoginCredentialFetcher registers)."""
    _botocore_login()
    from botocore.credentials import _build_add_dpop_header_handler

    return _build_add_dpop_header_handler


def _signin_client(region: str):
    from tray.core.identity import aws

    return aws.client("signin", region, shared=False)  # its own: a DPoP signer with one key is registered on it


def _region(profile: LoginProfile) -> str:
    """The sign-in service is regional: the profile's region, else the environment's, as botocore's session takes it."""
    region = profile.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise ConfigError(f"profile {profile.name} has no region, and the AWS sign-in service is regional: add region = R to it")
    return region


def _base_endpoint(client) -> str:
    """Where the sign-in service is (scheme and host) for this client: read from the URL botocore would send
    CreateOAuth2Token to, without sending it (as the AWS CLI finds its /v1/authorize page)."""
    from botocore.awsrequest import AWSResponse

    found: dict[str, str] = {}

    def capture(params, **kwargs):
        parts = urlsplit(params["url"])
        found["base"] = f"{parts.scheme}://{parts.netloc}"
        return AWSResponse(None, 200, {}, None), {}

    client.meta.events.register("before-call.signin.CreateOAuth2Token", capture)
    try:
        client.create_o_auth2_token(tokenInput={"clientId": " ", "grantType": " "})
    finally:
        client.meta.events.unregister("before-call.signin.CreateOAuth2Token", capture)
    return found["base"]


def _authorize_url(base: str, client_id: str, state: str, challenge: str, redirect_uri: str) -> str:
    query = urlencode({"response_type": "code", "client_id": client_id, "state": state, "code_challenge_method": "SHA-256",
                       "scope": "openid", "redirect_uri": redirect_uri})
    return f"{base}/v1/authorize?{query}&code_challenge={challenge}"


def _code_from_verification(text: str, state: str, what: str) -> str:
    """The code in what the cross-device page showed: base64 of `state=…&code=…`, whose state must be ours."""
    try:
        found = dict(parse_qsl(base64.b64decode((text or "").strip(), validate=True).decode("utf-8")))
    except (ValueError, UnicodeDecodeError):
        raise UsageError(f"{what}: that is not the code the sign-in page showed") from None
    if "code" not in found or not hmac.compare_digest(found.get("state", ""), state):
        raise UsageError(f"{what}: that code belongs to another sign-in: paste the one this sign-in's page showed")
    return found["code"]


def _subject(id_token: str, what: str) -> str:
    """The signed-in principal's ARN: the `sub` of the ID token (the AWS CLI reads it so, unverified)."""
    try:
        payload = id_token.split(".")[1]
        sub = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]
        if not (isinstance(sub, str) and sub.startswith("arn:") and len(sub.split(":")) >= 6):
            raise ValueError(sub)
        return sub
    except (IndexError, ValueError, KeyError, TypeError):
        raise AwsError(f"{what}: the sign-in service's ID token names no principal ARN") from None


def _pem(sec1_der: bytes) -> str:
    """The key as the AWS CLI writes it: SEC1 DER in base64 lines of 64, with the EC PRIVATE KEY armour."""
    body = textwrap.fill(base64.b64encode(sec1_der).decode("ascii"), width=64)
    return f"-----BEGIN EC PRIVATE KEY-----\n{body}\n-----END EC PRIVATE KEY-----\n"


@contextlib.contextmanager
def _translated(what: str, profile: LoginProfile):
    """botocore's login errors and the sign-in service's refusals as one line each."""
    from botocore.exceptions import BotoCoreError, ClientError

    from tray.core.identity import aws

    try:
        yield
    except ClientError as e:
        error = e.response.get("error") or aws.error_code(e)
        if error in ("TOKEN_EXPIRED", "USER_CREDENTIALS_CHANGED", "AUTHCODE_EXPIRED"):
            raise NotSignedIn(f"{what}: the sign-in has ended ({error}); sign in again: {profile.login_hint}") from None
        raise aws.translate(e, what, profile.login_hint) from None
    except BotoCoreError as e:
        name = type(e).__name__
        if name == "LoginRefreshRequired":
            raise NotSignedIn(f"{what}: the sign-in has ended; sign in again: {profile.login_hint}") from None
        if name == "MissingDependencyException":
            raise AwsError(f"{what}: {NEEDS}") from None
        if name == "LoginInsufficientPermissions":
            raise AwsError(f"{what}: the signed-in identity is not allowed signin:CreateOAuth2Token") from None
        raise aws.translate(e.__cause__ if isinstance(e.__cause__, ClientError) else e, what, profile.login_hint) from None

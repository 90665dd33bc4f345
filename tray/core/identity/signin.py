"""Signing in to an SSO session, as the AWS CLI v2 does it.

- `[sso-session]` sessions: the OAuth authorization-code flow with PKCE. A loopback server on
  127.0.0.1 and a free port receives the code; the browser is sent to the OIDC `/authorize` page.
- `--device-code` and legacy profiles: the device authorization flow, honouring `interval` and `slow_down`.

Only one sign-in per session runs at a time, across processes: the token cache file's lock is held for
the whole flow, and a process that had to wait reuses the token the first one obtained.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import secrets
import threading
import time
import urllib.error
import urllib.request
import webbrowser
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Callable
from urllib.parse import parse_qs, urlencode, urlparse

from tray.core.identity import aws, startregion
from tray.core.identity.config import SsoSession
from tray.core.credentials import utcnow
from tray.core.errors import AwsError, ConfigError, NotSignedIn
from tray.core.files.fileio import file_lock
from tray.core.osutil.loopback import SameUserHTTPServer
from tray.core.identity.tokens import (
    CorruptTokenCache,
    Registration,
    Token,
    read_registration,
    read_token,
    registration_cache_path,
    token_from_response,
    write_registration,
    write_token,
)

REDIRECT_URI = "http://127.0.0.1/oauth/callback"
PKCE_GRANTS = ("authorization_code", "refresh_token")
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_TIMEOUT = 600.0
# How often the waits of a sign-in look at the cancel event (the tray's Cancel and Quit), the deadline and the
# loopback server's stop flag: cancel, --timeout and Quit end a sign-in within about this long.
WAKE_INTERVAL = 0.1

Prompt = Callable[[str], None]


@dataclass
class SignInOptions:
    device_code: bool = False
    open_browser: bool = True
    timeout: float = DEFAULT_TIMEOUT
    prompt: Prompt = lambda message: None  # what to tell the person (URLs, codes, waiting)
    cancel: threading.Event | None = None  # set by the tray to abandon a sign-in
    opener: Callable[[str], None] | None = None  # opens the URL; default: the browser ($BROWSER)
    clock: Callable[[], datetime] = utcnow
    on_user_code: Callable[[str], None] | None = None  # the device flow's code, shown: e.g. offer to copy it


def login(session: SsoSession, options: SignInOptions | None = None) -> Token:
    """Sign in to `session` and cache the token; returns it.

    A session whose config has no `sso_region` gets it from its start URL first (the host, or a vanity URL's
    redirect), and after the sign-in it is written back into the config, as the AWS CLI v2 does."""
    options = options or SignInOptions()
    if session.problem:
        raise ConfigError(session.problem)
    if not session.region_in_config:
        issuer, region = startregion.resolve(session.start_url)
        session = session._replace(region=region, issuer_url=issuer if issuer != session.start_url else None)
    before = _peek(session)
    with contextlib.ExitStack() as held:
        _hold_session_lock(held, session, options)
        current = _peek(session)
        if current is not None and current.is_valid(options.clock()) and (before is None or current.access_token != before.access_token):
            options.prompt(f"Signed in to {session.name} by the sign-in that was already running.")
            return current
        if options.device_code or session.legacy:
            token = _device_flow(session, options)
        else:
            token = _pkce_flow(session, options)
        write_token(session, token)
    if not session.region_in_config:
        from tray.core.errors import TrayError
        from tray.core.files.configwrite import write_sso_region

        try:
            write_sso_region(session.name, session.region, legacy=session.legacy)
        except TrayError as e:  # signed in all the same: the token file carries the region too
            options.prompt(f"Signed in, but sso_region = {session.region} could not be written to the AWS config: {e}")
    return token


def _hold_session_lock(stack: contextlib.ExitStack, session: SsoSession, options: SignInOptions) -> None:
    """Take the token file's lock into `stack`, waiting while another process signs in; a cancel (the tray's
    Cancel or Quit) ends the wait too, within WAKE_INTERVAL, instead of only the other sign-in's end."""
    total = options.timeout + 60
    deadline = time.monotonic() + total
    told = []

    def tell():
        if not told:
            told.append(True)
            options.prompt(f"Another sso-tray is signing in to {session.name}; waiting for it to finish…")

    while True:
        left = deadline - time.monotonic()
        try:
            stack.enter_context(file_lock(session.token_cache_path, timeout=max(0.0, min(left, WAKE_INTERVAL)), on_wait=tell))
            return
        except AwsError:
            if left <= WAKE_INTERVAL:
                raise AwsError(f"{session.token_cache_path}: another sso-tray process holds its lock for more than {total:.0f} s") from None
            _wait(options, 0)


def logout(session: SsoSession) -> bool:
    """Call Logout and remove the cached token. Returns False if there was nothing to sign out of."""
    from tray.core.identity.tokens import delete_token

    # under the token file's lock, as renewals are: a renewal in flight cannot write its token back after
    # the file is gone (the session would come back, with a token Logout just ended)
    with file_lock(session.token_cache_path, timeout=60):
        try:
            token = read_token(session)
        except CorruptTokenCache:
            token = None
        if token is not None and token.is_valid(utcnow()):
            sso = aws.client("sso", session.region or token.region)
            try:
                with aws.translate_errors(f"signing out of {session.name}", session.login_hint):
                    sso.logout(accessToken=token.access_token)
            except NotSignedIn:
                pass  # already invalid on the server side: removing the file is all that is left
        return delete_token(session)


def _peek(session: SsoSession) -> Token | None:
    try:
        return read_token(session)
    except CorruptTokenCache:
        return None


# --- client registration ---------------------------------------------------------------------------


def _registration(session: SsoSession, oidc, grant: str, now: datetime, forgotten: bool = False) -> tuple[Registration, bool]:
    """(the cached client registration, False) if it is valid and can do `grant`, else (a new one that
    replaces it, True) (the AWS CLI v2 shares the file between its two flows and decides the same way).
    `forgotten`: the server no longer knows the cached one (it may forget a client before its expiry)."""
    path = registration_cache_path(session)
    reg = read_registration(path)
    if reg is not None and reg.is_valid(now) and reg.can_do(grant) and not forgotten:
        return reg, False
    kwargs = {"clientName": f"botocore-client-{session.name}" if not session.legacy else f"botocore-client-{int(now.timestamp())}", "clientType": "public"}
    if grant == "authorization_code":
        kwargs.update(grantTypes=list(PKCE_GRANTS), redirectUris=[REDIRECT_URI], issuerUrl=session.issuer, scopes=list(session.scopes))
    elif not session.legacy:
        kwargs.update(grantTypes=[DEVICE_GRANT, "refresh_token"], scopes=list(session.scopes))
    with aws.translate_errors(f"registering sso-tray with {session.name}"):
        response = oidc.register_client(**kwargs)
    reg = Registration(
        client_id=response["clientId"],
        client_secret=response["clientSecret"],
        expires_at=datetime.fromtimestamp(int(response["clientSecretExpiresAt"]), tz=now.tzinfo),
        scopes=tuple(kwargs.get("scopes", ())),
        grant_types=tuple(kwargs.get("grantTypes", ())),
    )
    write_registration(path, reg)
    return reg, True


def _open(url: str, options: SignInOptions, what: str) -> None:
    if options.open_browser:
        options.prompt(f"Opening the {what} page in your browser. If it does not open, visit:\n{url}")
        threading.Thread(target=options.opener or _open_browser, args=(url,), daemon=True, name="open-browser").start()
    else:
        options.prompt(f"Open this URL in a browser to sign in:\n{url}")


def _open_browser(url: str) -> None:
    try:
        webbrowser.open(url, new=2)
    except Exception:  # a broken $BROWSER must not break the sign-in: the URL was printed
        pass


def _wait(options: SignInOptions, seconds: float, done: threading.Event | None = None) -> None:
    """Wait `seconds`, or less once `done` is set; NotSignedIn if the tray cancels the sign-in."""
    cancel = options.cancel
    if done is not None:
        done.wait(seconds)
    elif cancel is not None:
        cancel.wait(seconds)
    else:
        time.sleep(seconds)
    if cancel is not None and cancel.is_set():
        raise NotSignedIn("the sign-in was cancelled")


# --- the authorization-code flow with PKCE --------------------------------------------------------


# How long one connection to the loopback server may stay silent. Browsers open spare connections that
# send nothing (pre-connect); each is served on a thread of its own and dropped after this.
CALLBACK_READ_TIMEOUT = 5.0


class _CallbackServer(SameUserHTTPServer):
    """Every connection on its own daemon thread, never joined: a silent client can neither hold up the
    browser's real redirect nor make close() (and so cancel, --timeout, Quit and the token lock) wait;
    and none from another user of the machine (the authorize URL, `state` included, is on the browser's
    command line)."""


class _Callback:
    """The loopback server that receives the browser's redirect with the code (or the refusal)."""

    def __init__(self, state: str):
        self.state = state
        self.done = threading.Event()
        self.code: str | None = None
        self.error: str | None = None
        callback = self

        class Handler(BaseHTTPRequestHandler):
            timeout = CALLBACK_READ_TIMEOUT

            def do_GET(self):  # noqa: N802
                url = urlparse(self.path)
                if url.path != "/oauth/callback":
                    self.send_error(404)
                    return
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                if callback.done.is_set() or not secrets.compare_digest(q.get("state", ""), callback.state):
                    self._page(400, "Sign-in failed", "This sign-in link is stale or was not started by sso-tray. Start the sign-in again.")
                    return
                if "code" in q:
                    callback.code = q["code"]
                    self._page(200, "Signed in", "sso-tray has your sign-in. You may close this tab.")
                else:
                    callback.error = q.get("error_description") or q.get("error") or "no code was returned"
                    self._page(200, "Sign-in was not completed", f"{callback.error}. You may close this tab.")
                callback.done.set()

            def _page(self, status: int, title: str, text: str) -> None:
                body = (
                    "<!doctype html><html><head><meta charset='utf-8'><title>sso-tray: {t}</title></head>"
                    "<body style='font-family:sans-serif;max-width:36em;margin:4em auto'><h1>{t}</h1><p>{x}</p></body></html>"
                ).format(t=html.escape(title), x=html.escape(text)).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # the query string carries the code: never log it
                pass

        self.server = _CallbackServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": WAKE_INTERVAL}, daemon=True, name="oauth-callback")
        self.thread.start()

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/oauth/callback"

    def close(self) -> None:
        """Stop accepting and close the listening socket; connections still open end on their own timeout."""
        self.server.shutdown()
        self.server.server_close()


def _pkce_flow(session: SsoSession, options: SignInOptions) -> Token:
    oidc = aws.client("sso-oidc", session.region)
    reg, fresh = _registration(session, oidc, "authorization_code", options.clock())
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")
    state = secrets.token_urlsafe(24)
    callback = _Callback(state)
    try:
        def authorize_url(client_id: str) -> str:
            query = urlencode({
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": callback.redirect_uri,
                "state": state,
                "code_challenge_method": "S256",
                "scopes": " ".join(session.scopes),
                "code_challenge": challenge,
            })
            return f"{oidc.meta.endpoint_url.rstrip('/')}/authorize?{query}"

        url = authorize_url(reg.client_id)
        # a cached registration the server has forgotten: the browser would show an error page and never
        # come back, so it is asked first, and replaced when refused (a fresh one needs no asking)
        if not fresh and _client_refused(url):
            reg, _ = _registration(session, oidc, "authorization_code", options.clock(), forgotten=True)
            url = authorize_url(reg.client_id)
        _open(url, options, "sign-in")
        deadline = time.monotonic() + options.timeout
        while not callback.done.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                raise NotSignedIn(f"the sign-in to {session.name} timed out after {options.timeout:.0f} s with no answer from the browser")
            _wait(options, min(left, WAKE_INTERVAL), callback.done)
    finally:
        callback.close()
    if callback.code is None:
        raise NotSignedIn(f"the sign-in to {session.name} was denied in the browser ({callback.error})")
    now = options.clock()
    with aws.translate_errors(f"signing in to {session.name}"):
        response = oidc.create_token(
            clientId=reg.client_id,
            clientSecret=reg.client_secret,
            grantType="authorization_code",
            code=callback.code,
            redirectUri=callback.redirect_uri,
            codeVerifier=verifier,
        )
    return token_from_response(session, response, now, reg)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the redirect is the browser's to follow: it goes on to sign the person in


def _client_refused(authorize_url: str) -> bool:
    """The authorize page refuses the client outright (400 `invalid_client`: the server has forgotten the
    registration); asked without following its redirect, so nothing is signed in by asking. Any other
    answer, or none, leaves the question to the browser."""
    try:
        with urllib.request.build_opener(_NoRedirect).open(authorize_url, timeout=10):
            return False
    except urllib.error.HTTPError as e:
        return e.code in (400, 401)
    except OSError:
        return False


# --- the device authorization flow ----------------------------------------------------------------


def _device_flow(session: SsoSession, options: SignInOptions) -> Token:
    oidc = aws.client("sso-oidc", session.region)
    grant = "device_code"
    reg, _ = _registration(session, oidc, grant, options.clock())
    with aws.translate_errors(f"starting the sign-in to {session.name}"):
        try:
            auth = oidc.start_device_authorization(clientId=reg.client_id, clientSecret=reg.client_secret, startUrl=session.issuer)
        except Exception as e:
            if aws.error_code(e) != "InvalidClientException":
                raise
            # the server has forgotten the cached registration (before its expiry): once more, with a new one
            reg, _ = _registration(session, oidc, grant, options.clock(), forgotten=True)
            auth = oidc.start_device_authorization(clientId=reg.client_id, clientSecret=reg.client_secret, startUrl=session.issuer)
    url = auth.get("verificationUriComplete") or auth["verificationUri"]
    _open(url, options, "device sign-in")
    # the verification page no longer carries the code in its URL: the person types or pastes it there
    options.prompt(f"Then enter this code on that page:\n\n    {auth['userCode']}\n")
    if options.on_user_code is not None:
        options.on_user_code(auth["userCode"])
    interval = float(auth.get("interval") or 5)
    deadline = time.monotonic() + min(options.timeout, float(auth.get("expiresIn") or options.timeout))
    while True:
        now = options.clock()
        try:
            response = oidc.create_token(
                clientId=reg.client_id, clientSecret=reg.client_secret, grantType=DEVICE_GRANT, deviceCode=auth["deviceCode"]
            )
        except Exception as e:
            code = aws.error_code(e)
            if code == "SlowDownException":
                interval += 5  # RFC 8628 §3.5
            elif code == "AccessDeniedException":
                raise NotSignedIn(f"the sign-in to {session.name} was denied") from None
            elif code == "ExpiredTokenException":
                raise NotSignedIn(f"the sign-in code for {session.name} expired before it was approved; start again: {session.login_hint}") from None
            elif code != "AuthorizationPendingException":
                raise aws.translate(e, f"signing in to {session.name}") from None
        else:
            # legacy tokens carry no registration, as the AWS CLI writes them
            return token_from_response(session, response, now, None if session.legacy else reg)
        if time.monotonic() + interval > deadline:
            raise NotSignedIn(f"the sign-in code for {session.name} expired before it was approved; start again: {session.login_hint}")
        _wait(options, interval)

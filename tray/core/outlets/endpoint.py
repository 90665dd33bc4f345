"""A container credentials endpoint on 127.0.0.1: what `exec --server`, the tray's terminals and `ssh` serve.

Every AWS SDK reads the container credentials protocol: `AWS_CONTAINER_CREDENTIALS_FULL_URI` names the
endpoint, `AWS_CONTAINER_AUTHORIZATION_TOKEN` (or the file named by `..._TOKEN_FILE`) is sent verbatim as
the `Authorization` header, and the answer is `AccessKeyId`, `SecretAccessKey`, `Token`, `Expiration`.
botocore asks again inside 15 minutes of `Expiration`, so whoever holds the variables never holds stale
credentials for as long as the endpoint can give fresh ones.

One endpoint serves any number of bearer tokens, each bound to one source of credentials (a profile) and
revocable on its own or all at once. The doors are the finder page's (tray.ui.finder.server):
1. `Host` must be `127.0.0.1:PORT` (or the port that `ssh -R` forwards to it): a web page under another name that resolves to 127.0.0.1 (DNS
   rebinding) is refused before anything else is looked at.
2. A connection from another user of this machine is dropped unread where the OS tells who it is
   (tray.core.osutil.loopback); elsewhere the token alone guards the door.
3. No `Authorization`: 401; a token that is wrong or revoked: 403 (compared in constant time).
With an `issuer`, `POST /tokens` with the endpoint's own key in KEY_HEADER hands out tokens: how
`sso-tray export --refreshing` asks the running tray (the key lives in a file only this user can read).
Nothing is logged, and no answer carries a secret other than the credentials asked for with a valid token.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import sys
import threading
from collections.abc import Callable
from datetime import datetime

from tray.core.credentials import RoleCredentials, utcnow
from tray.core.errors import NotSignedIn, TrayError

log = logging.getLogger(__name__)

SERVER_PATH = "/role-credentials"
ISSUE_PATH = "/tokens"
KEY_HEADER = "X-SSO-Tray-Key"
MAX_BODY = 4096


class _Grant:
    """One token's source of credentials and the last credentials it gave."""

    __slots__ = ("source", "last", "keep_when_signed_out", "lock")

    def __init__(self, source: Callable[[], RoleCredentials], keep_when_signed_out: bool) -> None:
        self.source = source
        self.last: RoleCredentials | None = None
        self.keep_when_signed_out = keep_when_signed_out
        self.lock = threading.Lock()  # one fetch per token at a time: concurrent readers share its result


class CredentialEndpoint:
    """127.0.0.1 and a random port, serving the credentials of each token issued until it is revoked.

    When a source fails, the token's last credentials are handed out while they have not expired (a network
    fault should not break a running job), except after the session ended (NotSignedIn) unless the token
    was issued with `keep_when_signed_out`: the tray's terminals then get the source's "sign in again"."""

    def __init__(self, clock: Callable[[], datetime] = utcnow,
                 issuer: Callable[[dict], tuple[int, dict]] | None = None) -> None:
        self._clock = clock
        self._issuer = issuer
        self.key = secrets.token_urlsafe(32) if issuer is not None else None
        self._grants: dict[str, _Grant] = {}
        self._lock = threading.Lock()
        self._httpd = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self._hosts: set[str] = set()  # the Host headers answered: 127.0.0.1:PORT, and a forwarded port's

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> CredentialEndpoint:
        self._httpd = _server_class()(("127.0.0.1", 0), _handler_for(self))
        self.port = self._httpd.server_address[1]
        self.add_host(f"127.0.0.1:{self.port}")
        self._thread = threading.Thread(target=self._serve, name="sso-tray-credentials", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        self._httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        """Revoke every token and stop serving."""
        self.revoke_all()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> CredentialEndpoint:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.origin + SERVER_PATH

    def add_host(self, host: str) -> None:
        """Answer requests for `host` too: a port forwarded to this one (`ssh -R`) is named in the Host header."""
        self._hosts = self._hosts | {host}

    # --- tokens ------------------------------------------------------------------------------------

    def issue(self, source: Callable[[], RoleCredentials], keep_when_signed_out: bool = False) -> str:
        """A new bearer token whose requests get `source()`'s credentials."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._grants[token] = _Grant(source, keep_when_signed_out)
        return token

    def revoke(self, token: str) -> None:
        with self._lock:
            self._grants.pop(token, None)

    def revoke_all(self) -> int:
        """Revoke every token; how many there were."""
        with self._lock:
            count = len(self._grants)
            self._grants.clear()
        return count

    def variables(self, token: str) -> dict[str, str]:
        """The container variables that point an SDK at this endpoint with `token`."""
        return {"AWS_CONTAINER_CREDENTIALS_FULL_URI": self.url, "AWS_CONTAINER_AUTHORIZATION_TOKEN": token}

    def _grant(self, given: str) -> _Grant | None:
        with self._lock:
            grants = list(self._grants.items())
        found = None
        for token, grant in grants:  # every token compared, in constant time each
            if hmac.compare_digest(given.encode(), token.encode()):
                found = grant
        return found

    def _credentials(self, grant: _Grant) -> RoleCredentials:
        with grant.lock:
            try:
                grant.last = grant.source()
            except TrayError as e:
                usable = grant.last is not None and grant.last.expiration > self._clock()
                if not usable or (isinstance(e, NotSignedIn) and not grant.keep_when_signed_out):
                    raise
            return grant.last


def _server_class():
    from tray.core.osutil.loopback import SameUserHTTPServer  # only the commands that serve need http.server

    class Server(SameUserHTTPServer):
        def handle_error(self, request, client_address):
            """A client gone mid-answer is nothing to report; anything else goes to the log, not to stderr
            (the command's own output, in `exec` and `ssh`) as socketserver would print it."""
            if not isinstance(sys.exc_info()[1], ConnectionError):
                log.exception("the credentials endpoint failed to answer a request")

    return Server


def _handler_for(endpoint: CredentialEndpoint):
    from http.server import BaseHTTPRequestHandler

    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True  # headers and body go in separate sends (see TESTING.md)
        # Seconds a connection may stay silent: an idle one (or one that never finishes its request) would
        # otherwise hold a thread. botocore sends its request at once.
        timeout = 10
        server_version = "sso-tray"
        sys_version = ""

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
            pass  # nothing about these requests is written anywhere

        def _host_ok(self) -> bool:
            # A page in a browser could reach 127.0.0.1 under another name (DNS rebinding): the name must be ours.
            if self.headers.get("Host") in endpoint._hosts:
                return True
            self._send(403, {"message": "wrong Host"})
            return False

        def do_GET(self) -> None:  # noqa: N802
            if not self._host_ok():
                return
            given = self.headers.get("Authorization")
            if not given:
                self._send(401, {"message": "the Authorization header is missing"})
                return
            grant = endpoint._grant(given)
            if grant is None:
                self._send(403, {"message": "the authorization token is wrong or was revoked"})
                return
            if self.path != SERVER_PATH:
                self._send(404, {"message": "not found"})
                return
            try:
                creds = endpoint._credentials(grant)
            except TrayError as e:
                self._send(503, {"message": str(e)})  # TrayError messages carry no secret; botocore shows this one
                return
            # the AWS CLI cache's shape, but the container protocol calls the session token `Token`
            body = creds.to_cli_cache()["Credentials"]
            body["Token"] = body.pop("SessionToken")
            self._send(200, body)

        def do_POST(self) -> None:  # noqa: N802
            if not self._host_ok():
                return
            if self.path != ISSUE_PATH or endpoint._issuer is None:
                self._send(405, {"message": "GET only"})
                return
            key = self.headers.get(KEY_HEADER) or ""
            if not hmac.compare_digest(key.encode(), endpoint.key.encode()):
                self._send(403, {"message": "the key is wrong"})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if 0 < length <= MAX_BODY else None
            except ValueError:
                body = None
            if not isinstance(body, dict):
                self._send(400, {"message": "send a JSON object"})
                return
            self._send(*endpoint._issuer(body))

        def do_PUT(self) -> None:  # noqa: N802
            self._send(405, {"message": "GET only"})

        do_DELETE = do_PATCH = do_PUT

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

    return Handler

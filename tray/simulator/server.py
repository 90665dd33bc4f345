"""HTTP: one server for the sso-oidc API, the sso portal API, the person-facing pages and the
``/_sim/`` control surface. Routes, query names and headers follow botocore's service models.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import socketserver
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import parse_qs, urlsplit

from . import control, federation, pages, portal, signin
from .errors import ApiError, oidc_error, portal_error
from .state import PageError

if TYPE_CHECKING:  # pragma: no cover
    from .simulator import Simulator

log = logging.getLogger("tray.simulator")

BEARER_HEADER = "x-amz-sso_bearer_token"
MAX_BODY = 1 << 20


def _oidc(method: str) -> Callable[[Handler, dict], Any]:
    return lambda h, body: getattr(h.sim.store, method)(body)


def _start_device(h: Handler, body: dict) -> dict:
    return h.sim.store.start_device_authorization(body, h.base_url())


def _portal(fn: Callable) -> Callable[[Handler, dict], Any]:
    return lambda h, _body: fn(h.sim.store, h.sim.directory(), h.bearer(), h.query)


def _role_credentials(h: Handler, _body: dict) -> dict:
    result = portal.get_role_credentials(h.sim.store, h.sim.directory(), h.bearer(), h.query)
    # remembered, so that the federation endpoint accepts these credentials and no others
    h.sim.federation.record(result["roleCredentials"], h.query["account_id"], h.query["role_name"])
    return result


def _logout(h: Handler, _body: dict) -> None:
    portal.logout(h.sim.store, h.bearer())


def _create_oauth2_token(h: Handler, body: dict) -> dict:
    return h.sim.signin.create_token(body, h.headers.get("DPoP"), h.base_url() + h.route_path)


def _unsupported(_h: Handler, _body: dict) -> None:
    raise oidc_error("InvalidRequestException", "CreateTokenWithIAM is not simulated")


# (method, path) -> (operation, "oidc" | "portal", implementation)
API_ROUTES: dict[tuple[str, str], tuple[str, str, Callable[[Handler, dict], Any]]] = {
    ("POST", "/client/register"): ("RegisterClient", "oidc", _oidc("register_client")),
    ("POST", "/device_authorization"): ("StartDeviceAuthorization", "oidc", _start_device),
    ("POST", "/token"): ("CreateToken", "oidc", _oidc("create_token")),
    ("GET", "/assignment/accounts"): ("ListAccounts", "portal", _portal(portal.list_accounts)),
    ("GET", "/assignment/roles"): ("ListAccountRoles", "portal", _portal(portal.list_account_roles)),
    ("GET", "/federation/credentials"): ("GetRoleCredentials", "portal", _role_credentials),
    ("POST", "/logout"): ("Logout", "portal", _logout),
    ("POST", "/v1/token"): ("CreateOAuth2Token", "oidc", _create_oauth2_token),
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore expects
    disable_nagle_algorithm = True  # else every keep-alive call waits ~40 ms for a delayed ACK
    server_version = "IdentityCenterSimulator"
    timeout = 120  # idle keep-alive connections are closed after this
    server: SimServer

    # -- plumbing ----------------------------------------------------------------------------

    @property
    def sim(self) -> Simulator:
        return self.server.sim

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        self.server.untrack(self.connection)
        super().finish()

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # requests are logged by _send, without query strings

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._handle("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle("PATCH")

    def _handle(self, method: str) -> None:
        self.started = time.monotonic()
        self.method = method
        parts = urlsplit(self.path)
        self.route_path = parts.path
        self.query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.operation = "-"
        self.status = 500
        try:
            self.body = self._read_body()
            if self.body is None:
                self.send_json(413, {"message": "Request body too large"}, "InvalidRequestException")
                self.close_connection = True
            else:
                self._route(method)
        except (ConnectionError, socket.timeout):
            self.close_connection = True
            return
        except Exception:  # noqa: BLE001 - answer 500 rather than drop the connection
            log.exception("simulator error in %s %s", method, self.route_path)
            try:
                self._send_error(ApiError(500, "InternalServerException",
                                          {"error": "server_error", "error_description": "internal error"}))
            except OSError:
                self.close_connection = True

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _route(self, method: str) -> None:
        path = self.route_path
        vanity = self.sim.vanity_landing(urlsplit("//" + self.headers.get("Host", "")).hostname or "")
        if vanity is not None:
            self._vanity(method, *vanity)
            return
        api = API_ROUTES.get((method, path))
        if path == "/token" and "aws_iam" in self.query:
            api = ("CreateTokenWithIAM", "oidc", _unsupported)
        if api is not None:
            self._api(*api)
        elif path.startswith("/_sim/"):
            self.operation = "Control"
            control.answer(self, method, path)
        elif (method, path) == ("GET", "/v1/authorize"):
            self._signin_authorize()
        elif (method, path) == ("GET", signin.CONFIRMATION_PATH):
            self.operation = "SigninConfirmationPage"
            code = signin.SigninService.verification_code(self.query)
            self._send_html(200, pages.signin_confirmation(code))
        elif (method, path) == ("GET", "/authorize"):
            self._authorize_page()
        elif (method, path) == ("POST", "/authorize"):
            self._authorize_answer()
        elif path == "/device" and method in ("GET", "POST"):
            self._device_page(method)
        elif path == "/federation" and method in ("GET", "POST"):
            self._federation()
        elif method == "GET" and (path == "/console" or path.startswith("/console/")):
            self._console_page()
        elif (method, path) == ("GET", "/"):
            self.operation = "IndexPage"
            self._send_html(200, pages.index(self.sim.url, self.sim.options.region,
                                             len(self.sim.directory().accounts)))
        else:
            self.send_json(404, {"message": "Not found"}, "UnknownOperationException")

    # -- the two APIs --------------------------------------------------------------------------

    def _api(self, operation: str, style: str, implementation: Callable[[Handler, dict], Any]) -> None:
        self.operation = operation
        self.style = style
        sim = self.sim
        sim.traffic.record_call(operation)
        latency = sim.options.latency
        if latency > 0:
            time.sleep(latency)
        payload: dict = {}
        try:
            if style == "oidc" and self.body:
                try:
                    payload = json.loads(self.body)
                except ValueError:
                    raise oidc_error("InvalidRequestException", "The request body is not valid JSON") from None
                if not isinstance(payload, dict):
                    raise oidc_error("InvalidRequestException", "The request body must be a JSON object")
            if not sim.traffic.admit(operation, self._caller(payload), sim.options):
                raise self._too_many_requests()
            result = implementation(self, payload)
        except ApiError as error:
            self._send_error(error)
            return
        if result is None:
            self._send(200, b"", "application/json")
        else:
            self.send_json(200, result)

    def _too_many_requests(self) -> ApiError:
        if self.style == "oidc":
            return oidc_error("TooManyRequestsException", "Rate exceeded")
        return portal_error("TooManyRequestsException", "Rate exceeded")

    def bearer(self) -> str | None:
        return self.headers.get(BEARER_HEADER)

    def _caller(self, payload: dict) -> str:
        """Who a rate limit applies to: the bearer token, else the client id, else the address."""
        token = self.bearer()
        if token:
            return "token:" + hashlib.sha256(token.encode()).hexdigest()[:24]
        client_id = payload.get("clientId")
        if isinstance(client_id, str) and client_id:
            return "client:" + client_id
        return "address:" + str(self.client_address[0])

    def base_url(self) -> str:
        host = self.headers.get("Host")
        return f"http://{host}" if host else self.sim.url

    # -- pages -----------------------------------------------------------------------------------

    def _form(self) -> dict[str, str]:
        text = self.body.decode("utf-8", "replace")
        return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}

    def _authorize_page(self) -> None:
        self.operation = "AuthorizePage"
        sim = self.sim
        sim.traffic.record_authorize(self.query)
        try:
            outcome = sim.store.begin_authorize(self.query)
        except PageError as problem:
            self._send_html(400, pages.error(str(problem)))
            return
        if outcome.redirect is not None:
            self._redirect(outcome.redirect)
            return
        request = outcome.request
        assert request is not None
        self._send_html(200, pages.consent(request.request_id, request.client_name, request.redirect_uri,
                                           request.scopes, sim.options.region))

    def _signin_authorize(self) -> None:
        self.operation = "SigninAuthorizePage"
        try:
            self._redirect(self.sim.signin.authorize(self.query, self.base_url()))
        except signin.AuthorizeRefused as problem:
            self._send_html(400, pages.error(str(problem)))

    def _authorize_answer(self) -> None:
        self.operation = "AuthorizeAnswer"
        form = self._form()
        try:
            target = self.sim.store.decide_authorize(form.get("request_id", ""), form.get("action") == "allow")
        except PageError as problem:
            self._send_html(400, pages.error(str(problem)))
            return
        self._redirect(target)

    def _device_page(self, method: str) -> None:
        store = self.sim.store
        if method == "GET":
            self.operation = "DevicePage"
            code = self.query.get("user_code", "")
            self._send_html(200, pages.device_form(code, client_name=store.device_client_name(code)))
            return
        self.operation = "DeviceAnswer"
        form = self._form()
        code = form.get("user_code", "")
        allow = form.get("action") == "allow"
        if store.approve_device(code, allow):
            self._send_html(200, pages.finished(allow))
        else:
            self._send_html(400, pages.device_form(code, error="That code is not valid or has expired."))

    def _vanity(self, method: str, landing: str, head_allowed: bool) -> None:
        """A company's own start URL, which redirects to its Identity Center portal."""
        self.operation = "VanityStartUrl"
        self.sim.traffic.record_call(self.operation)
        if method not in ("GET", "HEAD") or (method == "HEAD" and not head_allowed):
            self._send(405, b"", "text/plain", {"Allow": "GET" if not head_allowed else "GET, HEAD"})
            return
        self._redirect(landing)

    # -- sign-in federation and the stand-in console ---------------------------------------------

    def _federation(self) -> None:
        sim = self.sim
        given = federation.params(self.query, self.body)
        action = given.get("Action", "")
        self.operation = f"Federation:{action or '-'}"
        sim.traffic.record_call(self.operation)
        try:
            if action == "getSigninToken":
                token = sim.federation.get_signin_token(given.get("Session", ""), sim.store.now())
                self.send_json(200, {"SigninToken": token})
            elif action == "login":
                target = federation.console_target(given.get("Destination", ""), self.base_url())
                if target is None:
                    raise federation.FederationError("Destination must be an AWS console page")
                cookie, _ = sim.federation.login(given.get("SigninToken", ""), sim.store.now())
                self._send(302, b"", "text/plain", {
                    "Location": target,
                    "Set-Cookie": f"{federation.COOKIE}={cookie}; Path=/console; HttpOnly; SameSite=Lax",
                })
            else:
                raise federation.FederationError("Action must be getSigninToken or login")
        except federation.FederationError as problem:
            if action == "login":
                self._send_html(400, pages.error(str(problem)))
            else:
                self.send_json(400, {"message": str(problem)}, "InvalidRequestException")

    def _console_page(self) -> None:
        self.operation = "ConsolePage"
        user = self.sim.federation.console_user(self.headers.get("Cookie"))
        if user is None:
            self._send_html(403, pages.error("Not signed in to the console: sign in through the federation endpoint."))
            return
        account = self.sim.directory().get(user.account_id)
        self._send_html(200, pages.console(user.account_id, account.name if account else "", user.role_name,
                                           self.query.get("region", ""), self.route_path))

    # -- writing answers -----------------------------------------------------------------------

    def _send_error(self, error: ApiError) -> None:
        self.send_json(error.status, error.body, error.error_type)

    def send_json(self, status: int, body: Any, error_type: str | None = None) -> None:
        headers = {"x-amzn-ErrorType": error_type} if error_type else {}
        self._send(status, json.dumps(body).encode(), "application/json", headers)

    def _send_html(self, status: int, html: str) -> None:
        self._send(status, html.encode("utf-8"), "text/html; charset=utf-8")

    def _redirect(self, location: str) -> None:
        self._send(302, b"", "text/plain", {"Location": location})

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.status = status
        # Logged before the answer leaves, so a client that saw the answer can also see the line.
        # Never the query string, headers or bodies: they carry tokens, codes and secrets.
        log.info("%s %s %d %s %.1fms", self.method, self.route_path, status, self.operation,
                 (time.monotonic() - self.started) * 1000)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # see _send


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], sim: Simulator) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.sim = sim
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can stall on DNS; skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Cut kept-alive connections, so a stopped simulator answers nobody."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)

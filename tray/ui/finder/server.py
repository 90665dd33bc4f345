"""The finder page's HTTP server: 127.0.0.1, a free port, one secret per tray start (SPEC §8).

The page is a door to credentials, so every request passes the same checks, in this order:
1. `Host` must be `127.0.0.1:PORT`: a page on another name that resolves to 127.0.0.1 (DNS rebinding)
   is refused before anything else is looked at.
2. `GET /?key=SECRET` exchanges the secret in the URL for an HttpOnly, SameSite=Strict cookie and
   redirects to the same page without the secret (so it leaves the address bar and the history);
   a wrong secret is refused. The browser is never started with that URL, though: a program's command
   line can be read by other users of the machine (`ps`), so the tray and `sso-tray find` start it on a
   one-time ticket instead (`/?ticket=T`: exchanged the same way, once, within TICKET_LIFETIME).
   `sso-tray find` gets its ticket with `POST /api/ticket` and the secret in a header.
3. Without that cookie, every request gets 403 and no data.
4. Actions are POSTs of JSON from our own origin: a foreign or missing `Origin` is refused (a page
   elsewhere cannot drive the tray), as is any other content type (a cross-site form cannot send JSON
   without a preflight that this server never answers), and a GET on an action is 405.
Every response says `no-store`, forbids framing and referrers, and the CSP lets the page load only
its own files. The page never receives a secret: the tray copies or writes credentials itself.
Nothing is logged: request lines carry the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import sys
import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from importlib import resources
from urllib.parse import parse_qsl, urlencode, urlsplit

from tray.core.errors import TrayError
from tray.core.outlets.exports import FORMATS
from tray.core.osutil.loopback import SameUserHTTPServer
from tray.ui.finder.model import page_data

log = logging.getLogger(__name__)

STATIC = {  # path → (file in the package, content type)
    "/": ("index.html", "text/html; charset=utf-8"),
    "/finder.css": ("finder.css", "text/css; charset=utf-8"),
    "/finder.js": ("finder.js", "text/javascript; charset=utf-8"),
}
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
MAX_BODY = 64 * 1024
ACTION_WAIT = 30.0  # seconds an action may take before the page is told it is still running
PAGE_QUERY = ("q", "setup")  # what the secret URL may carry on to the page
TICKET_LIFETIME = 120.0  # seconds a one-time ticket may wait for the browser
KEY_HEADER = "X-SSO-Tray-Key"  # `sso-tray find` proves itself with the secret here


class FinderServer:
    """Serve the finder for `engine` until stop(). `ticket_url()` opens it once; `/?key=SECRET` always."""

    def __init__(self, engine, host: str = "127.0.0.1", clock=time.monotonic):
        self.engine = engine
        self.clock = clock
        self._tickets: dict[str, float] = {}  # one-time ticket → when it expires
        self._tickets_lock = threading.Lock()
        self.host = host
        self.secret = secrets.token_urlsafe(32)
        self.cookie_value = secrets.token_urlsafe(32)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._data: tuple | None = None  # (State, JSON, ETag)
        self.terminals = None  # the tray's credentials endpoint (tray.ui.terminals), for "Auto-refreshing"
        self.port = 0

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> "FinderServer":
        handler = type("Handler", (_Handler,), {"finder": self})
        self._httpd = _Server((self.host, 0), handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="finder", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def cookie_name(self) -> str:
        # cookies ignore the port: a name per port keeps apart the cookies of trays a browser has seen
        return f"sso_tray_finder_{self.port}"

    def ticket_url(self, **query: str | None) -> str:
        """A URL that opens the page once, within TICKET_LIFETIME: what a browser is started with.
        `q` and `setup` are passed on to the page."""
        ticket = secrets.token_urlsafe(32)
        now = self.clock()
        with self._tickets_lock:
            self._tickets = {t: until for t, until in self._tickets.items() if until > now}
            self._tickets[ticket] = now + TICKET_LIFETIME
        extra = {k: v for k, v in query.items() if v}
        return f"{self.origin}/?" + urlencode({"ticket": ticket, **extra})

    def redeem(self, ticket: str) -> bool:
        with self._tickets_lock:
            until = self._tickets.pop(ticket, None)
        return until is not None and until > self.clock()

    # --- what the page can ask --------------------------------------------------------------------

    def data(self) -> tuple[bytes, str]:
        """The page's JSON and its ETag, made once per State (the page asks every 2 s; a state with
        thousands of roles changes far less often)."""
        state = self.engine.state
        cached = self._data
        if cached is None or cached[0] is not state:
            body = json.dumps(page_data(state)).encode()
            cached = self._data = (state, body, '"%s"' % hashlib.sha1(body).hexdigest())
        return cached[1], cached[2]

    def favicon(self) -> bytes:
        """The tray's own icon for the current state, so the browser tab shows it too."""
        import io

        from tray.ui.icons import icon_image

        out = io.BytesIO()
        icon_image(self.engine.state, 32).save(out, "PNG")
        return out.getvalue()

    def act(self, body: dict) -> tuple[int, dict]:
        """Run one action the page asked for with the engine's own actions; (status, answer)."""
        state = self.engine.state
        action = body.get("action")
        if action == "sign_in":
            name = body.get("session")
            if name not in {s.name for s in state.sessions}:
                return 400, {"error": "no such session"}
            self.engine.sign_in(name)  # the browser flow takes minutes: the page follows the state
            return 202, {"message": f"Signing in to {name}…"}
        profile = body.get("profile")
        known = {r.profile for s in state.sessions for a in s.accounts for r in a.roles}
        if profile not in known:
            return 400, {"error": "no such profile"}
        fmt = body.get("format")
        if action in ("copy", "copy_refreshing") and fmt is not None and fmt not in FORMATS:
            return 400, {"error": "no such format"}
        if action == "copy":
            future = self.engine.copy_export(profile, fmt)
        elif action == "copy_refreshing":
            if self.terminals is None:
                return 503, {"error": "the tray's credentials endpoint could not be started"}
            future = self.terminals.copy(profile, fmt)
        elif action == "write":
            future = self.engine.write_credentials(profile)
        elif action == "pin":
            future = self.engine.toggle_pinned(profile)
        elif action == "favourite":
            future = self.engine.toggle_favourite(profile)
        elif action == "console":
            future = self.engine.open_console(profile)
        else:
            return 400, {"error": "no such action"}
        try:
            future.result(ACTION_WAIT)
        except FutureTimeout:
            return 202, {"message": "Still working…"}
        state = self.engine.state
        return 200, {"message": state.message, "failed": state.message_failed}

    def setup(self, body: dict) -> tuple[int, dict]:
        """Write an [sso-session] from the form, then load it and sign in to it."""
        from tray.core.files import configwrite
        from tray.core.identity.startregion import configured_region

        fields = {k: str(body.get(k) or "").strip() for k in ("start_url", "region", "name")}
        try:
            # as `configure`: a region the start URL names may be left out; one that is not named is asked for
            region = configured_region(configwrite.validate_start_url(fields["start_url"]), fields["region"] or None)
            name = configwrite.write_sso_session(fields["start_url"], region, fields["name"] or None)
        except TrayError as e:
            return 400, {"error": str(e)}
        self.engine.reload()
        self.engine.sign_in(name)  # applied after the reload, so the new session is known by then
        return 200, {"message": f"Saved [sso-session {name}]; signing in in your browser…", "session": name}


class _Server(SameUserHTTPServer):
    """Connections from another user of the machine are dropped unread (a browser's command line, with the
    page's one-time ticket, is readable by every user)."""

    def handle_error(self, request, client_address):
        """A browser tab closed mid-answer is nothing to report; anything else goes to the log, not to
        stderr as socketserver would print it."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            log.exception("the finder page failed to answer a request")


class _Handler(BaseHTTPRequestHandler):
    finder: FinderServer
    protocol_version = "HTTP/1.1"
    server_version = "sso-tray"
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body go in separate sends (see TESTING.md)
    timeout = 30  # a connection that says nothing for this long is closed

    def log_message(self, format, *args):  # the request line holds the secret: never log it
        pass

    # --- answers ---------------------------------------------------------------------------------

    def _send(self, status: int, body: bytes = b"", content_type: str = "text/plain; charset=utf-8",
              headers: dict | None = None) -> None:
        self.send_response(status)
        for key, value in {**SECURITY_HEADERS, **(headers or {})}.items():
            self.send_header(key, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _refuse(self, status: int = 403, why: str = "forbidden") -> None:
        self.close_connection = True  # a refused request's body is never read: it must not be taken for another request
        self._send(status, f"{why}\n".encode())

    def _json(self, status: int, obj: dict) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json")

    # --- checks ----------------------------------------------------------------------------------

    def _host_ok(self) -> bool:
        return (self.headers.get("Host") or "").lower() == f"{self.finder.host}:{self.finder.port}"

    def _has_cookie(self) -> bool:
        want = self.finder.cookie_value.encode()
        return any(hmac.compare_digest(value.encode(), want) for value in cookie_values(self.headers.get("Cookie") or "", self.finder.cookie_name))

    def _admit(self) -> str | None:
        """The request's path if it may go on; otherwise the refusal has been sent and None returned."""
        if not self._host_ok():
            self._refuse(403, "wrong Host")
            return None
        url = urlsplit(self.path)
        if url.path == "/" and self.command == "GET":
            query = dict(parse_qsl(url.query))
            if "key" in query or "ticket" in query:
                self._exchange(query)
                return None
        if url.path == "/api/ticket" and self.command == "POST":
            self._issue_ticket()
            return None
        if not self._has_cookie():
            self._refuse(403)
            return None
        return url.path

    def _exchange(self, query: dict) -> None:
        if "key" in query:
            valid = hmac.compare_digest(query["key"].encode(), self.finder.secret.encode())
        else:
            valid = self.finder.redeem(query["ticket"])
        if not valid:
            self._refuse(403)
            return
        rest = urlencode({k: v for k, v in query.items() if k in PAGE_QUERY})
        cookie = f"{self.finder.cookie_name}={self.finder.cookie_value}; Path=/; HttpOnly; SameSite=Strict"
        self._send(HTTPStatus.SEE_OTHER, b"", headers={"Location": "/" + (f"?{rest}" if rest else ""), "Set-Cookie": cookie})

    def _issue_ticket(self) -> None:
        """`sso-tray find`: a one-time URL for the secret in KEY_HEADER (no browser can send that header
        to this origin without a preflight, which this server never answers)."""
        key = self.headers.get(KEY_HEADER) or ""
        if not hmac.compare_digest(key.encode(), self.finder.secret.encode()):
            self._refuse(403)
            return
        query = dict(parse_qsl(urlsplit(self.path).query))
        self._json(200, {"url": self.finder.ticket_url(**{k: query.get(k) for k in PAGE_QUERY})})

    # --- methods ---------------------------------------------------------------------------------

    def do_GET(self):
        path = self._admit()
        if path is None:
            return
        if path in STATIC:
            name, content_type = STATIC[path]
            self._send(200, resources.files(__package__).joinpath("static", name).read_bytes(), content_type)
        elif path == "/api/state":
            body, etag = self.finder.data()
            if self.headers.get("If-None-Match") == etag:
                self._send(HTTPStatus.NOT_MODIFIED, headers={"ETag": etag})
            else:
                self._send(200, body, "application/json", headers={"ETag": etag})
        elif path == "/favicon.png":
            self._send(200, self.finder.favicon(), "image/png")
        elif path in ("/api/action", "/api/setup", "/api/ticket"):
            self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"use POST\n", headers={"Allow": "POST"})
        else:
            self._refuse(404, "not found")

    do_HEAD = do_GET

    def do_POST(self):
        path = self._admit()
        if path is None:
            return
        if self.headers.get("Origin") != self.finder.origin:
            self._refuse(403, "foreign Origin")
            return
        if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
            self._refuse(415, "send JSON")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            self._refuse(400, "bad body")
            return
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self._refuse(400, "bad body")
            return
        if path == "/api/action":
            self._json(*self.finder.act(body))
        elif path == "/api/setup":
            self._json(*self.finder.setup(body))
        else:
            self._refuse(404, "not found")

    def _not_allowed(self):
        if self._admit() is not None:
            self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"not allowed\n", headers={"Allow": "GET, POST"})

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed


def cookie_values(header: str, name: str) -> list[str]:
    """The values of every cookie called `name` in a Cookie header, split as browsers join them (RFC 6265
    §5.4: `name=value` pairs between semicolons). Not `http.cookies`: it stops at the first value it dislikes,
    and a browser sends this page every cookie any app on 127.0.0.1 set (cookies ignore the port), so one with
    a JSON value or a space would hide ours."""
    values = []
    for pair in header.split(";"):
        key, equals, value = pair.partition("=")
        if equals and key.strip() == name:
            values.append(value.strip())
    return values

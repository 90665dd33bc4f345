"""The loopback servers answer only the person who runs sso-tray: another user of the machine, who can read
a browser's command line (`ps`) and so its one-time address, gets nothing from them. Tested as that other
user (`nobody`), with the system's Python and its standard library only."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from conftest import need
from tray.core.osutil.loopback import SameUserHTTPServer, peer_uid

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the peer's user is known on Linux only")

SYSTEM_PYTHON = Path("/usr/bin/python3")
NOBODY = 65534

FETCH = """
import sys, urllib.request, urllib.error
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
try:
    r = urllib.request.build_opener(NoRedirect).open(sys.argv[1], timeout=10)
    print(r.status, r.headers.get("Location") or "", r.headers.get("Set-Cookie") or "")
except urllib.error.HTTPError as e:
    print(e.code, e.headers.get("Location") or "", e.headers.get("Set-Cookie") or "")
except Exception as e:
    print("refused", type(e).__name__)
"""


def fetch_as_another_user(url: str) -> str:
    """What another local user gets from `url`: its status, Location and Set-Cookie, or `refused …`."""
    need(os.getuid() == 0, "switching to another user needs root (CI runs as root)")
    need(SYSTEM_PYTHON.exists(), "the system's python3 (Debian package python3) runs the other user's client")
    result = subprocess.run([str(SYSTEM_PYTHON), "-I", "-c", FETCH, url], user=NOBODY, group=NOBODY, extra_groups=[],
                            capture_output=True, text=True, timeout=60, cwd="/")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_peer_of_a_loopback_connection_is_this_user():
    server = socket.create_server(("127.0.0.1", 0))
    with server, socket.create_connection(server.getsockname()) as _client:
        conn, _ = server.accept()
        with conn:
            assert peer_uid(conn) == os.getuid()


def test_another_user_gets_nothing_and_this_user_is_answered():
    class Hello(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = SameUserHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        assert fetch_as_another_user(url).startswith("refused")
        assert urllib.request.urlopen(url, timeout=10).status == 200
    finally:
        server.shutdown()
        server.server_close()


def test_the_console_link_cannot_be_taken_by_another_user_first(monkeypatch):
    """The browser is started on a one-time address; another user who reads it from `ps` and fetches it
    first gets no redirect, and the person's browser still gets the link."""
    import webbrowser

    from tray.core.outlets import console

    link = "https://signin.aws.amazon.com/federation?Action=login&SigninToken=BEARER"
    seen: dict[str, str] = {}
    browsed = threading.Event()

    def browser(address, new=0):  # the other user races the person's browser, and goes first
        try:
            seen["attacker"] = fetch_as_another_user(address)
            opener = urllib.request.build_opener(type("NoRedirect", (urllib.request.HTTPRedirectHandler,), {"redirect_request": lambda *a, **k: None}))
            try:
                opener.open(address, timeout=10)
            except urllib.error.HTTPError as e:
                seen["browser"] = f"{e.code} {e.headers.get('Location')}"
            return True
        finally:
            browsed.set()

    monkeypatch.setattr(webbrowser, "open", browser)
    console.open_url(link, timeout=60)
    # open_url returns once the redirect is served, which can be before this browser has read the answer
    assert browsed.wait(60)
    assert seen["attacker"].startswith("refused") and "BEARER" not in seen["attacker"]
    assert seen["browser"] == f"302 {link}"


def test_the_finder_ticket_cannot_be_redeemed_by_another_user(sso_env, home):
    from tray.core.engine.engine import Engine
    from tray.ui import finder

    engine = Engine()
    engine.start()
    server = finder.start(engine)
    try:
        url = server.ticket_url()
        assert fetch_as_another_user(url).startswith("refused")
        opener = urllib.request.build_opener(type("NoRedirect", (urllib.request.HTTPRedirectHandler,), {"redirect_request": lambda *a, **k: None}))
        with pytest.raises(urllib.error.HTTPError) as answer:  # the 303 to the page, with its cookie
            opener.open(url, timeout=10)
        assert answer.value.code == 303 and "HttpOnly" in answer.value.headers["Set-Cookie"]
    finally:
        finder.stop(server)
        engine.stop()


SEND_AND_CLOSE = """
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET / HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n")
print(s.getsockname()[1])
s.close()
"""


def wait_until_closed_end(port: int) -> None:
    """Until the kernel lists the client end on `port` as a closed one in time-wait: no socket (inode 0), uid 0."""
    row_address = "0100007F:%04X" % port
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open("/proc/net/tcp", encoding="ascii") as f:
            rows = [line.split() for line in f.readlines()[1:]]
        if any(r[1] == row_address and r[9] == "0" and r[7] == "0" for r in rows):
            return
        time.sleep(0.02)
    raise AssertionError(f"port {port} never showed as closed in /proc/net/tcp")


def test_a_connection_whose_other_end_closed_has_no_known_user():
    server = socket.create_server(("127.0.0.1", 0))
    with server:
        client = socket.create_connection(server.getsockname())
        port = client.getsockname()[1]
        conn, _ = server.accept()
        with conn:
            client.close()
            wait_until_closed_end(port)
            assert peer_uid(conn) is None


def test_a_request_another_user_sent_and_closed_is_not_taken_for_roots_own():
    """Another user sends a request and closes before the server accepts it: the kernel then lists their end with
    uid 0, which passed for the tray's own user when the tray runs as root (issue 17)."""
    need(os.getuid() == 0, "switching to another user needs root (CI runs as root)")
    need(SYSTEM_PYTHON.exists(), "the system's python3 (Debian package python3) runs the other user's client")
    admitted = []

    class Recording(SameUserHTTPServer):
        def process_request(self, request, client_address):  # only what verify_request let through gets here
            admitted.append(client_address)
            self.shutdown_request(request)

    with Recording(("127.0.0.1", 0), BaseHTTPRequestHandler) as server:  # listening, not yet accepting
        sent = subprocess.run([str(SYSTEM_PYTHON), "-I", "-c", SEND_AND_CLOSE, str(server.server_address[1])], user=NOBODY,
                              group=NOBODY, extra_groups=[], capture_output=True, text=True, timeout=60, cwd="/")
        assert sent.returncode == 0, sent.stderr
        wait_until_closed_end(int(sent.stdout))
        server.handle_request()  # accepts the waiting connection and asks who sent it
        assert admitted == []

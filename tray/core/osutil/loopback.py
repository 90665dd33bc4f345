"""HTTP servers on 127.0.0.1 that answer only the person who runs sso-tray.

sso-tray serves a few things on loopback: the sign-in's OAuth callback, the console's one-time redirect,
the finder page. Each starts a browser on a one-time address, and a browser's command line can be read
by every user of the machine (`ps`): another local user who fetches that address first would win the
race for the redirect (the console sign-in link) or the page's cookie. Every user can reach 127.0.0.1, so
secrets in URLs are not enough on a shared machine.

On Linux the kernel says who owns the other end of a loopback TCP connection (`/proc/net/tcp` lists each
socket with its uid), so a connection from another user is dropped before a byte of it is read. Elsewhere
there is no such lookup for TCP; the one-time secrets are what protects those servers there.
"""

from __future__ import annotations

import os
import socket
import sys
from http.server import ThreadingHTTPServer

PROC_NET_TCP = "/proc/net/tcp"


def _hex_address(address: tuple) -> str:
    """An IPv4 (ip, port) as /proc/net/tcp writes it: the address in host (little-endian) order, then the port."""
    ip, port = address[:2]
    return "%08X:%04X" % (int.from_bytes(socket.inet_aton(ip), sys.byteorder), port)


def peer_uid(conn: socket.socket, table: str = PROC_NET_TCP) -> int | None:
    """The uid owning the other end of an accepted IPv4 loopback connection, or None if it cannot be told
    (not Linux, /proc not readable, the other end closed or gone already)."""
    try:
        want = (_hex_address(conn.getpeername()), _hex_address(conn.getsockname()))
        with open(table, encoding="ascii") as f:
            next(f)  # the header
            for line in f:
                fields = line.split()
                # A closed end the kernel keeps in time-wait has no socket left: inode 0, and uid 0 whoever
                # owned it, which would pass for root's own connection. Such a row tells nothing: skip it.
                if (fields[1], fields[2]) == want and fields[9] != "0":
                    return int(fields[7])
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return None


def same_user(conn: socket.socket) -> bool:
    """Whether the connection comes from this process's user (always True where that cannot be known)."""
    if not sys.platform.startswith("linux") or not os.path.exists(PROC_NET_TCP):
        return True
    return peer_uid(conn) == os.getuid()


class SameUserHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server on loopback that drops connections from other users. Each connection runs on
    a daemon thread that is never waited for, so a silent client can hold up neither the others nor close()."""

    daemon_threads = True
    block_on_close = False

    def verify_request(self, request, client_address) -> bool:
        return same_user(request)

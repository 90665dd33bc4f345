"""How `sso-tray find` reaches the running tray: a file only this user can read, beside the tray's lock.

The tray writes `finder.json` (mode 0600, in the 0700 locks folder of `tray.core.paths.app_locks_dir()`)
while it holds the single-instance lock, and removes it when it quits. It holds the page's origin and the
secret. A file, not a socket: the folder's permissions already make it private to the user on every
platform (the per-user cache folder on Windows and macOS too), it needs no server of its own, and
`find` proves the tray behind it is alive by asking the page itself (a left-over file from a tray that
crashed then answers nothing, or refuses the secret).
"""

from __future__ import annotations

import contextlib
import http.client
import json
from urllib.parse import urlencode, urlsplit

from tray.core import paths
from tray.core.errors import UsageError

NOT_RUNNING = "the tray is not running: start it with `sso-tray run` (or from your applications menu), then try again"


def channel_file():
    return paths.app_locks_dir() / "finder.json"


def publish(origin: str, secret: str) -> None:
    from tray.core.fileio import write_json

    write_json(channel_file(), {"origin": origin, "key": secret}, mode=0o600)


def withdraw() -> None:
    with contextlib.suppress(FileNotFoundError):
        channel_file().unlink()


def page_url(text: str | None = None, timeout: float = 3.0) -> str:
    """The running tray's finder URL (with the secret, and TEXT for the search box).
    UsageError when no tray answers: there is nothing to open."""
    try:
        entry = json.loads(channel_file().read_text(encoding="utf-8"))
        origin, key = entry["origin"], entry["key"]
        parts = urlsplit(origin)
    except (OSError, ValueError, KeyError, TypeError):
        raise UsageError(NOT_RUNNING) from None
    query = urlencode({"key": key, **({"q": text} if text else {})})
    if not _answers(parts.hostname, parts.port, query, timeout):
        raise UsageError(NOT_RUNNING)
    return f"{origin}/?{query}"


def _answers(host: str, port: int, query: str, timeout: float) -> bool:
    """The tray behind the file is alive: its page accepts the secret (a redirect to itself)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", f"/?{query}", headers={"Host": f"{host}:{port}"})
        return conn.getresponse().status == 303
    except OSError:
        return False
    finally:
        conn.close()

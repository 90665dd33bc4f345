"""How `sso-tray find` reaches the running tray: a file only this user can read, beside the tray's lock.

The tray writes `finder.json` (mode 0600, in the 0700 locks folder of `tray.core.files.paths.app_locks_dir()`)
while it holds the single-instance lock, and removes it when it quits. It holds the page's origin and the
secret. A file, not a socket: the folder's permissions already make it private to the user on every
platform (the per-user cache folder on Windows and macOS too), it needs no server of its own, and
`find` proves the tray behind it is alive by asking it for a one-time URL to open (a left-over file from
a tray that crashed then answers nothing, or refuses the secret).
"""

from __future__ import annotations

import contextlib
import http.client
import json
from urllib.parse import urlencode, urlsplit

from tray.core.files import paths
from tray.core.errors import UsageError
from tray.ui.finder.server import KEY_HEADER

NOT_RUNNING = "the tray is not running: start it with `sso-tray run` (or from your applications menu), then try again"


def channel_file():
    return paths.app_locks_dir() / "finder.json"


def publish(origin: str, secret: str) -> None:
    from tray.core.files.fileio import private_dir, write_json

    private_dir(channel_file().parent)  # the folder is what keeps the secret private: 0700, and ours
    write_json(channel_file(), {"origin": origin, "key": secret}, mode=0o600)


def withdraw() -> None:
    with contextlib.suppress(FileNotFoundError):
        channel_file().unlink()


def page_url(text: str | None = None, timeout: float = 3.0) -> str:
    """A one-time URL of the running tray's finder (TEXT for the search box): the secret itself stays in
    this file and never reaches a browser's command line. UsageError when no tray answers."""
    try:
        entry = json.loads(channel_file().read_text(encoding="utf-8"))
        origin, key = entry["origin"], entry["key"]
        parts = urlsplit(origin)
        host, port = parts.hostname, parts.port
    except (OSError, ValueError, KeyError, TypeError):
        raise UsageError(NOT_RUNNING) from None
    path = "/api/ticket" + (f"?{urlencode({'q': text})}" if text else "")
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("POST", path, headers={"Host": f"{host}:{port}", KEY_HEADER: key})
        response = conn.getresponse()
        answer = json.loads(response.read()) if response.status == 200 else None
    except (OSError, ValueError):  # a tray that crashed left its file: nothing answers, or something else does
        answer = None
    finally:
        conn.close()
    if not isinstance(answer, dict) or not str(answer.get("url", "")).startswith(origin + "/"):
        raise UsageError(NOT_RUNNING)
    return answer["url"]

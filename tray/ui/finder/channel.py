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


def publish(origin: str, secret: str, file=None) -> None:
    """Write the channel `file` (the finder's by default): the origin and the secret, for this user alone."""
    from tray.core.files.fileio import private_dir, write_json

    file = file or channel_file()
    private_dir(file.parent)  # the folder is what keeps the secret private: 0700, and ours
    write_json(file, {"origin": origin, "key": secret}, mode=0o600)


def withdraw(file=None) -> None:
    with contextlib.suppress(FileNotFoundError):
        (file or channel_file()).unlink()


def ask(file, path: str, key_header: str, not_running: str, body: dict | None = None, timeout: float = 3.0) -> tuple[str, int, object]:
    """POST `path` (with `body` as JSON) to the tray that wrote the channel `file`, its secret in `key_header`:
    (the tray's origin, the status, the JSON answer). UsageError(`not_running`) when no tray answers: a tray
    that crashed left its file, and nothing answers there, or something else does."""
    try:
        entry = json.loads(file.read_text(encoding="utf-8"))
        origin, key = entry["origin"], entry["key"]
        parts = urlsplit(origin)
        host, port = parts.hostname, parts.port
    except (OSError, ValueError, KeyError, TypeError):
        raise UsageError(not_running) from None
    headers = {"Host": f"{host}:{port}", key_header: key}
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("POST", path, body=None if body is None else json.dumps(body).encode(), headers=headers)
        response = conn.getresponse()
        return origin, response.status, json.loads(response.read())
    except (OSError, ValueError):
        raise UsageError(not_running) from None
    finally:
        conn.close()


def page_url(text: str | None = None, timeout: float = 3.0) -> str:
    """A one-time URL of the running tray's finder (TEXT for the search box): the secret itself stays in
    this file and never reaches a browser's command line. UsageError when no tray answers."""
    path = "/api/ticket" + (f"?{urlencode({'q': text})}" if text else "")
    origin, status, answer = ask(channel_file(), path, KEY_HEADER, NOT_RUNNING, timeout=timeout)
    if status != 200 or not isinstance(answer, dict) or not str(answer.get("url", "")).startswith(origin + "/"):
        raise UsageError(NOT_RUNNING)
    return answer["url"]

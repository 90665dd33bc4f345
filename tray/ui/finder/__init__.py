"""The role finder page (SPEC §8): served by the running tray on 127.0.0.1, searched as you type.

`server` answers the page and its actions (and holds the security rules), `model` turns the engine's
State into the page's JSON, `channel` lets `sso-tray find` find the running tray, and `static/` holds the
page itself: plain HTML, CSS and JavaScript, no build step, nothing fetched from elsewhere.
"""

from __future__ import annotations

from tray.ui.finder import channel
from tray.ui.finder.server import FinderServer


def start(engine) -> FinderServer:
    """The tray's finder: serving, and announced to `sso-tray find` (the caller holds the tray lock)."""
    server = FinderServer(engine).start()
    channel.publish(server.origin, server.secret)
    return server


def stop(server: FinderServer) -> None:
    channel.withdraw()
    server.stop()


def open_in_browser(url: str) -> None:
    """The default browser (`$BROWSER` where set) on `url`; AwsError when there is none."""
    import webbrowser

    from tray.core.errors import AwsError

    if not webbrowser.open(url):
        raise AwsError("no web browser could be started (set $BROWSER, or use `sso-tray find --print-url`)")

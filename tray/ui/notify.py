"""Desktop notifications with a "Sign in again" action.

On Linux sso-tray talks to the freedesktop notification service (org.freedesktop.Notifications) over
D-Bus through Gio, which PyGObject — already needed for the tray's menu — provides: actions and the
click on the notification itself both work, and no other library is needed. Where the service or the
session bus is missing, the notifier says it is unavailable and the icon and menu carry the warning.
On macOS, tray.ui.macnotify (the user-notification framework in the .app, osascript off the main thread
elsewhere); on Windows, pystray's own notify() (a balloon, no buttons: a click on it runs the
notification's first action, as tray.ui.windows routes the shell's NIN_BALLOONUSERCLICK to
`PystrayNotifier.balloon_clicked`).

Every notifier hands its text to the platform through `notification_text`, which cuts the title and
the body to the platform's limits (Windows balloons: 63 and 255; pystray raises ValueError above them).
A body carries text from servers and files (an error message, a session's name); a freedesktop service
that offers `body-markup` reads the body as markup, so it gets the body escaped: shown as written, never
as a link or formatting someone else chose.
"""

from __future__ import annotations

import html
import logging
import threading
from typing import Callable

from tray.ui.platform import fit, text_limits

log = logging.getLogger(__name__)

BUS_NAME = "org.freedesktop.Notifications"
OBJECT_PATH = "/org/freedesktop/Notifications"
APP_NAME = "sso-tray"


def notification_text(title: str, body: str, platform: str | None = None) -> tuple[str, str]:
    """(title, body) as the platform takes them. The title is cut in the middle, so that the end of
    "AWS session <long name> expires in 5m" stays; it is never empty (pystray's Windows backend would
    put the 127-character tooltip in its place)."""
    limits = text_limits(platform)
    return fit(title or APP_NAME, limits.notification_title, middle=True), fit(body, limits.notification_body)


URGENCY = {"low": 0, "normal": 1, "critical": 2}  # the specification's byte values


class NullNotifier:
    available = False
    reason = "no notification service"

    def notify(self, title: str, body: str, actions: dict[str, str], on_action: Callable[[str], None],
               tag: str | None = None, urgency: str | None = None) -> None:
        log.info("notification not shown (%s): %s", self.reason, title)

    def close(self, tag: str) -> None:
        pass


class DBusNotifier:
    """org.freedesktop.Notifications through Gio. Construct it on the thread that runs the GLib main
    loop, so that clicks (ActionInvoked) are delivered there.

    A notification given a `tag` replaces the one on screen with the same tag (replaces_id), so a
    session has one notification that stays true, and `close(tag)` takes it away."""

    def __init__(self, icon_path: str = ""):
        from gi.repository import Gio, GLib

        self._GLib, self._Gio = GLib, Gio
        self.icon_path = icon_path
        self._callbacks: dict[int, Callable[[str], None]] = {}
        self._shown: dict[str, int] = {}  # tag → the id of its notification on screen
        self._lock = threading.Lock()
        self.available = False
        self.reason = ""
        try:
            self._bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
            caps = self._bus.call_sync(BUS_NAME, OBJECT_PATH, BUS_NAME, "GetCapabilities", None,
                                       GLib.VariantType.new("(as)"), Gio.DBusCallFlags.NONE, 3000, None).unpack()[0]
        except GLib.Error as e:
            self.reason = f"no notification service on the session bus ({e.message.split(':')[0]})"
            return
        self.actions_supported = "actions" in caps
        self.body_markup = "body-markup" in caps
        self.available = True
        self._bus.signal_subscribe(BUS_NAME, BUS_NAME, "ActionInvoked", OBJECT_PATH, None, Gio.DBusSignalFlags.NONE, self._on_action)
        self._bus.signal_subscribe(BUS_NAME, BUS_NAME, "NotificationClosed", OBJECT_PATH, None, Gio.DBusSignalFlags.NONE, self._on_closed)

    def notify(self, title: str, body: str, actions: dict[str, str], on_action: Callable[[str], None],
               tag: str | None = None, urgency: str | None = None) -> None:
        GLib = self._GLib
        title, body = notification_text(title, body)
        if self.body_markup:  # the summary is plain text by the specification; only the body is markup
            body = html.escape(body, quote=False)
        flat: list[str] = []
        if actions:
            # "default" is what clicking the notification itself invokes
            first = next(iter(actions))
            flat += ["default", actions[first]]
            for key, label in actions.items():
                flat += [key, label]
        level = URGENCY[urgency] if urgency else (2 if actions else 1)
        hints = {"urgency": GLib.Variant("y", level), "desktop-entry": GLib.Variant("s", APP_NAME)}
        with self._lock:
            replaces = self._shown.get(tag, 0) if tag else 0
        try:
            nid = self._bus.call_sync(
                BUS_NAME, OBJECT_PATH, BUS_NAME, "Notify",
                GLib.Variant("(susssasa{sv}i)", (APP_NAME, replaces, self.icon_path, title, body, flat, hints, -1)),
                GLib.VariantType.new("(u)"), self._Gio.DBusCallFlags.NONE, 3000, None,
            ).unpack()[0]
        except GLib.Error as e:
            log.warning("notification failed: %s", e.message)
            return
        with self._lock:
            if tag:
                self._shown[tag] = nid
            self._callbacks.pop(replaces, None)  # the replaced notification's actions are gone with it
            if actions:
                first = next(iter(actions))
                self._callbacks[nid] = lambda key: on_action(first if key == "default" else key)

    def close(self, tag: str) -> None:
        """Take the tag's notification off the screen (it is no longer true)."""
        with self._lock:
            nid = self._shown.pop(tag, None)
            if nid is not None:
                self._callbacks.pop(nid, None)
        if nid is not None:
            self._close(nid)

    def _close(self, nid: int) -> None:
        self._bus.call(BUS_NAME, OBJECT_PATH, BUS_NAME, "CloseNotification", self._GLib.Variant("(u)", (nid,)),
                       None, self._Gio.DBusCallFlags.NONE, 3000, None, self._closed_or_gone)

    def _on_action(self, _conn, _sender, _path, _iface, _signal, params):
        nid, key = params.unpack()
        with self._lock:
            callback = self._callbacks.pop(nid, None)
        if callback is not None:
            callback(key)
            # Its work is done. Not every server removes a notification whose action was invoked (dunst
            # keeps it after `dunstctl action`), and a critical one never times out: "expires in 1m"
            # would stay on screen after the sign-in it started.
            self._close(nid)

    def _closed_or_gone(self, conn, result):
        try:
            conn.call_finish(result)
        except self._GLib.Error:
            pass  # the server had already closed it

    def _on_closed(self, _conn, _sender, _path, _iface, _signal, params):
        # the service sends ActionInvoked before NotificationClosed: a closed one has no action left
        nid = params.unpack()[0]
        with self._lock:
            self._callbacks.pop(nid, None)
            for tag in [t for t, shown in self._shown.items() if shown == nid]:
                del self._shown[tag]


class PystrayNotifier:
    """Windows: pystray's notify (a balloon, no buttons). The newest notification's first action is what a
    click on the balloon runs (`balloon_clicked`). A balloon replaces the one before it by itself."""

    available = True
    reason = ""

    def __init__(self, icon, on_ui_thread=lambda fn: fn()):
        self.icon = icon
        self._on_ui_thread = on_ui_thread  # pystray's notify touches the platform too: AppKit, the icon's window
        self._lock = threading.Lock()
        self._on_click: Callable[[], None] | None = None

    def balloon_clicked(self) -> None:
        """The person clicked the notification on screen (the newest: a balloon replaces the one before):
        its first action, once."""
        with self._lock:
            on_click, self._on_click = self._on_click, None
        if on_click is not None:
            on_click()

    def notify(self, title, body, actions, on_action, tag=None, urgency=None) -> None:
        title, body = notification_text(title, body)
        first = next(iter(actions), None)
        with self._lock:
            self._on_click = (lambda: on_action(first)) if first is not None else None

        def show():
            try:
                self.icon.notify(body, title)
            except Exception:
                log.warning("notification failed", exc_info=True)

        self._on_ui_thread(show)

    def close(self, tag: str) -> None:
        with self._lock:
            self._on_click = None  # the balloon is gone: nothing left to click
        self._on_ui_thread(self._remove)

    def _remove(self) -> None:
        try:
            self.icon.remove_notification()
        except Exception:
            log.warning("removing the notification failed", exc_info=True)

"""What differs between the platforms the tray runs on, kept where every platform's tests can see it.

`TEXT_LIMITS` holds the longest texts each platform takes. Windows copies the tooltip and the balloon's
title and body into fixed WCHAR arrays of NOTIFYICONDATAW (128, 64 and 256 UTF-16 code units, the last
one for the terminating NUL); pystray 0.19.5 assigns them with ctypes, which raises ValueError for a
longer text. macOS (NSStatusItem tooltips, `osascript` notifications) and the freedesktop notification
service take any length. The functions that make those texts cut them with `fit`, so a long session
name shortens a text and never crashes the tray; which platform applies is a parameter, so the Windows
cut is tested on Linux.

`prepare_app` is what must happen before the tray's run loop starts: on macOS the accessory activation
policy, so that a pip or pipx install shows no Python icon in the Dock.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

ELLIPSIS = "…"


class TextLimits(NamedTuple):
    tooltip: int | None  # in UTF-16 code units; None: no limit
    notification_title: int | None
    notification_body: int | None


NO_LIMITS = TextLimits(None, None, None)
TEXT_LIMITS = {
    "win32": TextLimits(tooltip=127, notification_title=63, notification_body=255),
}


def text_limits(platform: str | None = None) -> TextLimits:
    platform = platform or sys.platform
    return TEXT_LIMITS.get("win32" if platform == "cygwin" else platform, NO_LIMITS)


def text_length(text: str) -> int:
    """The length Windows counts: UTF-16 code units (a character outside the BMP takes two)."""
    return len(text.encode("utf-16-le")) // 2


def fit(text: str, limit: int | None, *, middle: bool = False) -> str:
    """`text`, cut to `limit` UTF-16 code units with an ellipsis where it was cut (at the end, or in the
    middle so that both ends stay readable: "AWS session prod-…-eu expires in 5m")."""
    if limit is None or text_length(text) <= limit:
        return text
    room = limit - 1
    if not middle:
        return _head(text, room) + ELLIPSIS
    tail = _tail(text, room // 2)
    return _head(text, room - text_length(tail)) + ELLIPSIS + tail


def _head(text: str, units: int) -> str:
    out, used = [], 0
    for c in text:
        used += text_length(c)
        if used > units:
            break
        out.append(c)
    return "".join(out)


def _tail(text: str, units: int) -> str:
    return _head(text[::-1], units)[::-1]


# --- before the run loop -------------------------------------------------------------------------


def prepare_app(platform: str | None = None, appkit=None) -> bool:
    """Call before the run loop. On macOS: the accessory activation policy (a menu-bar item, no Dock
    icon, no app menu). The bundle's Info.plist says the same with LSUIElement; a pip or pipx install
    runs as plain Python, which AppKit treats as a regular app. True when the policy was set. `appkit`
    stands in for PyObjC's AppKit in tests."""
    if (platform or sys.platform) != "darwin":
        return False
    if appkit is None:
        import AppKit as appkit  # PyObjC, which pystray's macOS backend already needs
    app = appkit.NSApplication.sharedApplication()
    app.setActivationPolicy_(appkit.NSApplicationActivationPolicyAccessory)
    return True


def app_icons():
    """What draws the logo into a hicolor folder for the Linux applications menu (`tray.core.osutil.autostart`
    takes it as a parameter, since tray.core draws nothing); None without Pillow (the tray extra)."""
    try:
        from tray.ui.icons import save_app_icons
    except ImportError:
        return None
    return save_app_icons

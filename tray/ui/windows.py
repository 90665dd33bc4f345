"""Windows: what the tray needs there that pystray's Win32 backend (0.19) does not do.

- **DPI awareness.** A process that does not declare it is drawn at 96 dpi and stretched by the system at
  125-200 %: a blurry menu and icon. `make_dpi_aware` asks for per-monitor awareness (v2, Windows 10
  1703+), else per-monitor (8.1), else system awareness (Vista), before any window exists.
- **The icon's size.** The notification area shows icons at the small-icon size (SM_CXSMICON: 16 px at
  100 %, 24 at 150 %, 32 at 200 %); pystray loads its .ico at the large-icon size, which the shell then
  shrinks. `icon_class` loads it at the small size, and the tray draws the image at that size.
- **Clicks on the icon and its balloon.** People expect a tray menu on a left click too (pystray runs
  the default item instead), and a click on a balloon notification to do what the notification offers:
  the shell sends NIN_BALLOONUSERCLICK, which pystray ignores. `route_clicks` handles both in the icon's
  message map (pystray's `_message_handlers`), on the thread that pumps the icon's window.

Every function takes the platform's libraries as parameters where the tests need a stand-in; the real
ones are loaded only on Windows.
"""

from __future__ import annotations

import ctypes
import logging
from typing import Callable

log = logging.getLogger(__name__)

WM_USER = 0x0400
NIN_BALLOONUSERCLICK = WM_USER + 5
WM_LBUTTONUP = 0x0202
WM_RBUTTONUP = 0x0205
SM_CXSMICON = 49
DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2 = -4
PROCESS_PER_MONITOR_DPI_AWARE = 2
IMAGE_ICON = 1
LR_LOADFROMFILE = 0x10


def _dll(name: str):
    return getattr(ctypes, "windll").LoadLibrary(name)


def make_dpi_aware(user32=None, shcore=None) -> str | None:
    """Declare the process DPI-aware, the best way this Windows knows; which way worked, or None."""
    user32 = user32 or _dll("user32")
    attempts = (
        ("per-monitor v2", lambda: user32.SetProcessDpiAwarenessContext(ctypes.c_void_p(DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2))),
        ("per-monitor", lambda: (shcore or _dll("shcore")).SetProcessDpiAwareness(PROCESS_PER_MONITOR_DPI_AWARE) == 0),
        ("system", lambda: user32.SetProcessDPIAware()),
    )
    for name, attempt in attempts:
        try:
            if attempt():
                return name
        except (AttributeError, OSError):  # not in this Windows (the function or shcore.dll is missing)
            continue
    log.info("the process could not be made DPI-aware: menus and the icon may be blurry above 100 %")
    return None


def small_icon_size(user32=None) -> int:
    """The notification area's icon size in pixels, at this display's scaling (after make_dpi_aware)."""
    size = int((user32 or _dll("user32")).GetSystemMetrics(SM_CXSMICON))
    return size if size > 0 else 16


def icon_class(base):
    """pystray's Win32 Icon (or a class made from it), loading its image at the small-icon size."""

    class SmallIcon(base):
        def _assert_icon_handle(self):
            if self._icon_handle:
                return
            from pystray._util import serialized_image, win32

            size = small_icon_size()
            with serialized_image(self.icon, "ICO") as icon_path:
                self._icon_handle = win32.LoadImage(None, icon_path, IMAGE_ICON, size, size, LR_LOADFROMFILE)

    return SmallIcon


def route_clicks(icon, on_balloon_click: Callable[[], None], notify_message: int | None = None) -> None:
    """In `icon`'s message map: a left click opens the menu as a right click does, and a click on the
    balloon calls `on_balloon_click`. Call it before the icon's loop starts."""
    if notify_message is None:
        from pystray._util import win32

        notify_message = win32.WM_NOTIFY
    on_notify = icon._message_handlers[notify_message]

    def routed(wparam, lparam):
        if lparam == NIN_BALLOONUSERCLICK:
            try:
                on_balloon_click()
            except Exception:  # a failed action must not end the icon's message loop
                log.exception("the notification's action failed")
            return 0
        return on_notify(wparam, WM_RBUTTONUP if lparam == WM_LBUTTONUP else lparam)

    icon._message_handlers[notify_message] = routed

"""The one door to what the tray shows: every change of the icon's image, title, menu and visibility goes
through a `Surface`, which applies it on the backend's own UI thread.

pystray passes a setter (`icon.icon = …`, `.title`, `.menu`, `.visible`) straight to the platform on the
thread that calls it. The engine publishes from its worker, timer and watcher threads, and the tray's setup
runs on pystray's setup thread; AppKit kills a process that touches NSStatusItem off the main thread, and a
Win32 menu belongs to the thread that made it. So here a change is only recorded, and one flush is posted
to the backend's main loop:

- GTK and AppIndicator: `GLib.idle_add` (the loop pystray runs in `run()`);
- macOS: `PyObjCTools.AppHelper.callAfter` (the NSApplication run loop);
- Windows: a window message of our own, registered once, posted to the icon's window and handled in its
  message map (pystray's `_message_handlers`), so that it runs on the thread that pumps that window.

Changes that arrive before the flush runs are merged, and the flush applies the newest value of each:
the screen never goes back to an older state, and a burst of changes costs one update. Nothing is posted
before `start()` (the backend's loop runs): until then changes wait, as the window does not exist yet.

While the menu is open, changes wait until it closes (Windows: the WM_NOTIFY handler that shows it;
macOS: the icon's `menu_gate`, driven by its NSMenu delegate; GTK: its popup's "hide"), so that nothing is
replaced under the person's pointer.

The minute's status text is a relabel in place of the top-level items, on the UI thread too (GTK: the
Gtk.MenuItems; macOS: the NSMenuItems; Windows: SetMenuItemInfoW, tray.ui.winmenu); whenever the menu on
screen does not match, it is rebuilt.
"""

from __future__ import annotations

import collections
import logging
import sys
import threading
from typing import Callable

log = logging.getLogger(__name__)

GTK_BACKENDS = ("appindicator", "gtk")
ORDER = ("icon", "title", "label", "menu", "labels", "visible")  # the order a flush applies them in


class Surface:
    """What the tray shows, changed from any thread and applied on the backend's UI thread."""

    def __init__(self, icon, backend: str | None, platform: str | None = None):
        self.icon = icon
        self.kind = _kind(backend, platform or sys.platform)
        self._post: Callable[[Callable[[], None]], None] | None = None
        self._lock = threading.Lock()
        self._pending: dict[str, object] = {}
        self._posted = False
        self._started = False

    @property
    def can_relabel(self) -> bool:
        return self.kind in ("glib", "appkit", "win32")

    def update(self, **changes) -> None:
        """Show these changes (any of icon, title, menu, labels=(labels, make_menu), visible), from any
        thread. A new menu replaces labels still waiting: they belonged to the menu it replaces."""
        unknown = set(changes) - set(ORDER)
        if unknown:
            raise TypeError(f"not a change of the tray: {', '.join(sorted(unknown))}")
        with self._lock:
            if "menu" in changes:
                self._pending.pop("labels", None)
            self._pending.update(changes)
            if self._posted or not self._started:
                return
            self._posted = True
        self._post(self._flush)

    def call(self, fn: Callable[[], None]) -> None:
        """Run `fn` on the UI thread (e.g. stopping the icon), after the changes already posted."""
        if self._post is None:
            fn()
        else:
            self._post(fn)

    def start(self) -> None:
        """The backend's loop runs (pystray's setup callback): post what waited, and everything after."""
        self._post = self._poster()
        with self._lock:
            self._started = True
            if self._posted or not self._pending:
                return
            self._posted = True
        self._post(self._flush)

    def _poster(self) -> Callable[[Callable[[], None]], None]:
        if self.kind == "glib":
            return _glib_post
        if self.kind == "appkit":
            from PyObjCTools import AppHelper

            gate = getattr(self.icon, "menu_gate", None)  # callAfter runs during menu tracking too
            if gate is None:
                return AppHelper.callAfter
            return lambda fn: AppHelper.callAfter(gate.run_when_closed, fn)
        if self.kind == "win32":
            return _WindowThread(self.icon)
        return _Serial()  # xorg and others: pystray keeps no UI thread there; one change at a time

    def _flush(self) -> None:
        """On the UI thread: apply the newest value of every change that waited."""
        if self.kind == "glib" and self._gtk_menu_open():
            return  # still posted: what arrives meanwhile joins the changes waiting
        with self._lock:
            changes, self._pending, self._posted = self._pending, {}, False
        icon = self.icon
        for key in ORDER:
            if key not in changes:
                continue
            value = changes[key]
            try:
                if key == "labels":
                    self._relabel(*value)
                elif key == "label":
                    _set_label(icon, value)
                else:
                    setattr(icon, key, value)  # pystray's own setter: icon, title, menu, visible
            except Exception:  # one failed change must not stop the others, nor the loop
                log.exception("the tray's %s could not be updated", key)

    def _gtk_menu_open(self) -> bool:
        """GTK's own popup of the menu is on screen (the gtk backend, or AppIndicator without a panel):
        flush again once it has closed. (A panel drawing the menu from D-Bus shows each change as it
        comes, and each of its items keeps its own id.)"""
        handle = getattr(self.icon, "_menu_handle", None)
        if handle is None or not hasattr(handle, "get_mapped") or not handle.get_mapped():
            return False

        def closed(*_args):
            handle.disconnect(connection)
            self._post(self._flush)

        connection = handle.connect("hide", closed)
        return True

    def _relabel(self, labels: tuple[str, ...], make_menu: Callable[[], object]) -> None:
        if self.kind == "glib":
            # pystray builds a GTK menu in an idle callback of its own (queued by the menu setter): look at
            # the menu on screen after that has run
            _glib_post(lambda: _relabel_gtk(self.icon, labels) or self.update(menu=make_menu()))
        elif not (self.kind == "appkit" and _relabel_appkit(self.icon, labels)
                  or self.kind == "win32" and _relabel_win32(self.icon, labels)):
            self.icon.menu = make_menu()


def _kind(backend: str | None, platform: str) -> str:
    if backend in GTK_BACKENDS:
        return "glib"
    if platform == "darwin":
        return "appkit"
    if platform == "win32":
        return "win32"
    return "serial"


def _glib_post(fn: Callable[[], None]) -> None:
    from gi.repository import GLib

    def once():
        fn()
        return GLib.SOURCE_REMOVE

    GLib.idle_add(once)


class _Serial:
    """No loop to post to: run each call at once, one at a time."""

    def __init__(self):
        self._lock = threading.RLock()

    def __call__(self, fn: Callable[[], None]) -> None:
        with self._lock:
            fn()


class _WindowThread:
    """Windows: calls queued here and run by the icon's window procedure, on the thread pumping its messages.

    pystray shows the menu with TrackPopupMenuEx inside its WM_NOTIFY handler, whose modal loop goes on
    dispatching posted messages: a change run then would destroy the menu on screen (pystray's
    `_update_menu` calls DestroyMenu). So while that handler runs, calls wait, and run when it returns."""

    def __init__(self, icon):
        from pystray._util import win32

        self._win32 = win32
        self._icon = icon
        self._calls: collections.deque = collections.deque()
        self._showing = 0
        self.message = win32.RegisterWindowMessage("sso-tray.surface")
        handlers = icon._message_handlers
        handlers[self.message] = self._run
        on_notify = handlers.get(win32.WM_NOTIFY)
        if on_notify is not None:
            handlers[win32.WM_NOTIFY] = lambda wparam, lparam: self._around_menu(on_notify, wparam, lparam)

    def __call__(self, fn: Callable[[], None]) -> None:
        self._calls.append(fn)
        self._win32.PostMessage(self._icon._hwnd, self.message, 0, 0)

    def _around_menu(self, on_notify, wparam, lparam):
        self._showing += 1
        try:
            return on_notify(wparam, lparam)
        finally:
            self._showing -= 1
            self._run(0, 0)

    def _run(self, _wparam, _lparam) -> int:
        while self._calls and not self._showing:
            self._calls.popleft()()
        return 0


def _set_label(icon, text: str) -> None:
    """The text beside the icon, where the backend has one: AppIndicator's label, the macOS status item's
    title. XEmbed trays and Windows have none (the tooltip and menu say the same)."""
    indicator = getattr(icon, "_appindicator", None)
    if indicator is not None:
        indicator.set_label(text, "59m")  # the guide: the widest it gets, so the panel keeps its width
        return
    item = getattr(icon, "_status_item", None)
    if item is not None:
        item.button().setTitle_(text)


def _relabel_gtk(icon, labels: tuple[str, ...]) -> bool:
    """Set the top-level labels of the GTK menu on screen (AppIndicator mirrors them over D-Bus).
    `labels` has "-" where the menu has a separator."""
    handle = getattr(icon, "_menu_handle", None)
    if handle is None:
        return False
    widgets = handle.get_children()
    if len(widgets) != len(labels):
        return False
    for widget, text in zip(widgets, labels):
        if text != "-" and widget.get_label() != text:
            widget.set_label(text)
    return True


def _relabel_win32(icon, labels: tuple[str, ...]) -> bool:
    """The same for the Windows menu (tray.ui.winmenu keeps its texts; pystray's own icon cannot)."""
    relabel = getattr(icon, "relabel", None)
    return relabel is not None and relabel(labels)


def _relabel_appkit(icon, labels: tuple[str, ...]) -> bool:
    """The same for pystray's NSMenu (its `_menu_handle` is (NSMenu, callbacks))."""
    handle = getattr(icon, "_menu_handle", None)
    if not handle:
        return False
    nsmenu = handle[0]
    if nsmenu.numberOfItems() != len(labels):
        return False
    for index, text in enumerate(labels):
        item = nsmenu.itemAtIndex_(index)
        if not item.isSeparatorItem() and item.title() != text:
            item.setTitle_(text)
    return True

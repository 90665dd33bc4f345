"""Submenus made when they are opened, on every backend: here for pystray's GTK backends (AppIndicator
and GTK), in tray.ui.winmenu for Windows and tray.ui.macmenu for macOS; `native_icon_class` picks one.

pystray builds a Gtk.MenuItem for every item of every submenu as soon as the menu is set, and
AppIndicator's libdbusmenu mirrors each one as an exported D-Bus object: with a thousand accounts that
is hundreds of thousands of objects and hundreds of MiB. Here a submenu given as a `LazyMenu` becomes a
Gtk.Menu holding one placeholder until it is opened:

- a panel opening it over D-Bus calls dbusmenu's `AboutToShow(id)`, which libdbusmenu-gtk answers by
  activating the Gtk.MenuItem ("activate");
- GTK's own popup (the gtk backend) selects the item when the pointer or the keyboard reaches it ("select").

Either fills the Gtk.Menu with the real items, once; libdbusmenu sees them inserted and exports them, so
the panel's next `GetLayout` has them. Not the submenu's "show" signal: libdbusmenu-gtk toggles every
submenu's visibility once when it parses a menu, which would fill them all.

Windows and macOS fill a submenu when the platform says it is about to open (WM_INITMENUPOPUP, an NSMenu
delegate's `menuNeedsUpdate:`), from the same descriptors.
"""

from __future__ import annotations

import collections
import sys
from typing import Callable

import pystray

PLACEHOLDER = "…"


def native_icon_class(base: type, backend: str | None, platform: str | None = None) -> type:
    """pystray's Icon class for this desktop (`base`: `pystray.Icon`), with submenus filled when opened."""
    from tray.ui.surface import GTK_BACKENDS

    platform = platform or sys.platform
    if backend in GTK_BACKENDS:
        return lazy_icon_class(base)
    if platform == "darwin":
        from tray.ui.macmenu import lazy_darwin_icon_class

        return lazy_darwin_icon_class(base)
    if platform == "win32":
        from tray.ui.winmenu import lazy_win32_icon_class

        return lazy_win32_icon_class(base)
    return base


class NoRebuildOnClick:
    """pystray rebuilds the whole native menu after every click (its `_handler` and `Icon.__call__` call
    `update_menu`). The tray's menu is a function of the State and is set anew when the State changes,
    so a click only runs the item's action."""

    def _handler(self, callback):
        def run(*_args):
            callback(self)

        return run

    def __call__(self):
        if self._menu is not None:
            self._menu(self)


class MenuGate:
    """Calls that wait while the menu is open, run on the UI thread when it closes: a menu replaced
    under the person's pointer would show, or run, something else than what they saw."""

    def __init__(self):
        self.open = False
        self._waiting: collections.deque[Callable[[], None]] = collections.deque()

    def opened(self) -> None:
        self.open = True

    def closed(self) -> None:
        self.open = False
        while self._waiting and not self.open:
            self._waiting.popleft()()

    def run_when_closed(self, fn: Callable[[], None]) -> None:
        if self.open:
            self._waiting.append(fn)
        else:
            fn()


class LazyMenu(pystray.Menu):
    """A pystray.Menu whose items come from `make()` each time they are asked for. It counts as visible
    and non-empty without making them, so that pystray's visibility checks do not build the whole tree."""

    def __init__(self, make):
        super().__init__(make)

    @property
    def visible(self) -> bool:
        return True

    def __bool__(self) -> bool:
        return True


def lazy_icon_class(base: type) -> type:
    """`base` (pystray's GTK or AppIndicator Icon) with LazyMenu submenus filled when opened."""

    class LazyIcon(NoRebuildOnClick, base):
        _restoring = False

        def _handler(self, descriptor):
            def run(widget=None, *_args):
                if self._restoring:
                    return
                descriptor(self)
                # a GTK check item toggles its own mark when clicked, but what it shows is the State's: put
                # the mark back (set_active emits "activate" again, hence `_restoring`); a changed State
                # brings a new menu with the new mark
                checked = descriptor.checked
                if checked is not None and hasattr(widget, "set_active") and widget.get_active() != checked:
                    self._restoring = True
                    try:
                        widget.set_active(checked)
                    finally:
                        self._restoring = False

            return run

        def _create_menu(self, descriptors):
            if not isinstance(descriptors, LazyMenu):
                return super()._create_menu(descriptors)
            from gi.repository import Gtk

            menu = Gtk.Menu.new()
            placeholder = Gtk.MenuItem.new_with_label(PLACEHOLDER)
            placeholder.set_sensitive(False)
            menu.append(placeholder)  # a submenu with no item is not shown as one (no children-display)
            menu.show_all()
            return menu

        def _create_menu_item(self, descriptor):
            widget = super()._create_menu_item(descriptor)
            submenu = None if descriptor is pystray.Menu.SEPARATOR else descriptor.submenu
            if isinstance(submenu, LazyMenu):
                fill = _Filler(self, widget.get_submenu(), submenu)
                widget.connect("activate", fill)
                widget.connect("select", fill)
            return widget

    LazyIcon.__name__ = LazyIcon.__qualname__ = f"Lazy{base.__name__}"
    return LazyIcon


class _Filler:
    """Puts a LazyMenu's items into its Gtk.Menu the first time the submenu is opened."""

    __slots__ = ("icon", "menu", "lazy")

    def __init__(self, icon, menu, lazy: LazyMenu):
        self.icon, self.menu, self.lazy = icon, menu, lazy

    def __call__(self, *_args) -> None:
        if self.lazy is None:
            return
        lazy, self.lazy = self.lazy, None
        for child in self.menu.get_children():
            self.menu.remove(child)
        for descriptor in lazy:
            self.menu.append(self.icon._create_menu_item(descriptor))
        self.menu.show_all()

"""Windows: pystray's Win32 icon with submenus filled when they open, and clicks answered from the menu
that was shown.

pystray 0.19.5 builds the whole tree (a popup menu per submenu, one ID per item, counted across the
tree) whenever the menu is set, and again after every click (`_handler`, `Icon.__call__`): with 1000
accounts x 3 roles that is 7,170 menus and 43,491 items, seconds of the UI thread, IDs past 65,535 (the
most a menu item ID can be) and, with the roles also configured as profiles, past the 10,000 USER
objects Windows allows a process. Here:

- a build makes the top level only; each submenu is an empty popup holding a disabled placeholder, and
  is filled when Windows sends WM_INITMENUPOPUP for it (the menu is about to open), once;
- each build owns its IDs and callbacks (`_ShownMenu`), so TrackPopupMenuEx's answer is looked up in the
  menu that was on screen, whatever happened meanwhile; IDs never pass 65,535 (an item past the budget is
  shown disabled) and a build that grew past the budgets is replaced when the menu closes;
- the minute's status text is set in place (SetMenuItemInfoW), and a click does not rebuild anything:
  the tray sets a new menu when the State it shows changes.

Changes posted while the menu is open wait until it closes (tray.ui.surface's `_WindowThread`).
"""

from __future__ import annotations

import ctypes
from ctypes import wintypes
from typing import Callable

from tray.ui.lazymenu import PLACEHOLDER, NoRebuildOnClick

WM_INITMENUPOPUP = 0x0117
MF_BYPOSITION = 0x0400
MAX_ITEM_ID = 0xFFFF  # a menu item ID is a WORD where TrackPopupMenuEx returns it
ID_BUDGET = 0xC000  # a build whose IDs passed this is replaced when the menu closes ...
MENU_BUDGET = 300  # ... as is one that made this many popup menus (Windows: 10,000 USER objects a process)


class _ShownMenu:
    """One build of the native menu: its handle, the callbacks by item ID, the submenus not filled yet."""

    __slots__ = ("hmenu", "callbacks", "unfilled", "menus", "labels")

    def __init__(self):
        self.hmenu = None
        self.callbacks: list[Callable | None] = [None]  # ID 0 is "nothing chosen"
        self.unfilled: dict[int, object] = {}  # popup handle -> its pystray.Menu
        self.menus = 0
        self.labels: list[str] = []

    def add(self, callback: Callable) -> int:
        """The ID for a new item running `callback`; 0 when the build has no ID left."""
        if len(self.callbacks) > MAX_ITEM_ID:
            return 0
        self.callbacks.append(callback)
        return len(self.callbacks) - 1

    @property
    def outgrown(self) -> bool:
        return len(self.callbacks) > ID_BUDGET or self.menus > MENU_BUDGET


def _user32_extras(win32):
    """The calls pystray's win32 module does not declare, from its own `windll`."""
    user32 = win32.windll.user32
    set_info = user32.SetMenuItemInfoW
    set_info.argtypes = (wintypes.HMENU, wintypes.UINT, wintypes.BOOL, win32.LPMENUITEMINFO)
    set_info.restype = wintypes.BOOL
    count = user32.GetMenuItemCount
    count.argtypes = (wintypes.HMENU,)
    count.restype = ctypes.c_int
    delete = user32.DeleteMenu
    delete.argtypes = (wintypes.HMENU, wintypes.UINT, wintypes.UINT)
    delete.restype = wintypes.BOOL
    return set_info, count, delete


def lazy_win32_icon_class(base: type) -> type:
    """`base` (pystray's Win32 Icon) with the menu described above."""
    from pystray import _base
    from pystray._util import win32

    SetMenuItemInfo, GetMenuItemCount, DeleteMenu = _user32_extras(win32)

    class LazyWin32Icon(NoRebuildOnClick, base):
        def __init__(self, *args, **kwargs):
            self._menu_handle = None  # pystray's Win32 icon sets it only once a menu is built
            super().__init__(*args, **kwargs)
            self._message_handlers[WM_INITMENUPOPUP] = self._on_init_menu_popup
            self.menus_created = 0  # popup menus made since start (benchmarks, tests)

        def _mark_ready(self):
            # TrackPopupMenuEx sends WM_INITMENUPOPUP to the menu's owner, pystray's second window, which
            # its window procedure does not know
            self._HWND_TO_ICON[self._menu_hwnd] = self
            super()._mark_ready()

        def _mainloop(self):
            try:
                super()._mainloop()
            finally:
                self._HWND_TO_ICON.pop(self._menu_hwnd, None)

        def _update_menu(self):
            old, self._menu_handle = self._menu_handle, None
            if old:
                win32.DestroyMenu(old[0])  # and every submenu in it
            shown = _ShownMenu()
            descriptors = self.menu
            if descriptors:
                shown.hmenu = self._popup(shown)
                self._fill(shown, shown.hmenu, descriptors)
                shown.labels = [d.text for d in descriptors]
                self._menu_handle = (shown.hmenu, shown)  # the pair pystray's own teardown expects

        def _popup(self, shown: _ShownMenu):
            shown.menus += 1
            self.menus_created += 1
            return win32.CreatePopupMenu()

        def _fill(self, shown: _ShownMenu, hmenu, descriptors) -> None:
            for index, descriptor in enumerate(descriptors):
                item = self._native_item(shown, descriptor)
                win32.InsertMenuItem(hmenu, index, True, ctypes.byref(item))

        def _native_item(self, shown: _ShownMenu, descriptor):
            if descriptor is _base.Menu.SEPARATOR:
                return win32.MENUITEMINFO(cbSize=ctypes.sizeof(win32.MENUITEMINFO), fMask=win32.MIIM_FTYPE,
                                          fType=win32.MFT_SEPARATOR)
            submenu, item_id, enabled = None, 0, descriptor.enabled
            if descriptor.submenu:
                submenu = self._popup(shown)
                placeholder = win32.MENUITEMINFO(
                    cbSize=ctypes.sizeof(win32.MENUITEMINFO), fMask=win32.MIIM_STRING | win32.MIIM_STATE,
                    dwTypeData=PLACEHOLDER, fState=win32.MFS_DISABLED)
                win32.InsertMenuItem(submenu, 0, True, ctypes.byref(placeholder))  # shown as a submenu, and opened
                shown.unfilled[submenu] = descriptor.submenu
            else:
                item_id = shown.add(lambda: descriptor(self))
                enabled = enabled and item_id != 0
            return win32.MENUITEMINFO(
                cbSize=ctypes.sizeof(win32.MENUITEMINFO),
                fMask=win32.MIIM_ID | win32.MIIM_STRING | win32.MIIM_STATE | win32.MIIM_FTYPE | win32.MIIM_SUBMENU,
                wID=item_id, dwTypeData=descriptor.text,
                fState=(win32.MFS_DEFAULT if descriptor.default else 0)
                | (win32.MFS_CHECKED if descriptor.checked else 0)
                | (0 if enabled else win32.MFS_DISABLED),
                fType=win32.MFT_RADIOCHECK if descriptor.radio else 0,
                hSubMenu=submenu)

        def _on_init_menu_popup(self, wparam, lparam):
            """A submenu is about to open: put its items in, the first time."""
            shown = self._menu_handle[1] if self._menu_handle else None
            descriptors = shown.unfilled.pop(wparam, None) if shown else None
            if descriptors is None:
                return 0
            DeleteMenu(wparam, 0, MF_BYPOSITION)  # the placeholder
            self._fill(shown, wparam, descriptors)
            return 0

        def _on_notify(self, wparam, lparam):
            if lparam == win32.WM_RBUTTONUP and self._menu_handle:
                self._show_menu()
            else:
                super()._on_notify(wparam, lparam)  # a left click runs the default item

        def _show_menu(self) -> None:
            hmenu, shown = self._menu_handle
            win32.SetForegroundWindow(self._hwnd)  # else the menu does not close when the person clicks away
            point = wintypes.POINT()
            win32.GetCursorPos(ctypes.byref(point))
            chosen = win32.TrackPopupMenuEx(hmenu, win32.TPM_RIGHTALIGN | win32.TPM_BOTTOMALIGN | win32.TPM_RETURNCMD,
                                            point.x, point.y, self._menu_hwnd, None)
            if shown.outgrown and self._menu_handle and self._menu_handle[1] is shown:
                self._update_menu()  # a fresh build of the same menu: its IDs and popups start over
            callback = shown.callbacks[chosen] if 0 < chosen < len(shown.callbacks) else None
            if callback is not None:
                callback()

        def relabel(self, labels) -> bool:
            """Set the top level's texts in place (the status lines' time left); False when the menu on
            screen has other items."""
            shown = self._menu_handle[1] if self._menu_handle else None
            if shown is None or GetMenuItemCount(shown.hmenu) != len(labels) or len(shown.labels) != len(labels):
                return False
            for index, (old, new) in enumerate(zip(shown.labels, labels)):
                if new != "-" and new != old:
                    info = win32.MENUITEMINFO(cbSize=ctypes.sizeof(win32.MENUITEMINFO), fMask=win32.MIIM_STRING,
                                              dwTypeData=new)
                    SetMenuItemInfo(shown.hmenu, index, True, ctypes.byref(info))
                    shown.labels[index] = new
            return True

    LazyWin32Icon.__name__ = LazyWin32Icon.__qualname__ = f"Lazy{base.__name__}"
    return LazyWin32Icon

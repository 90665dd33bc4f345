"""pystray's real Win32 backend (`pystray/_util/win32.py` and `pystray/_win32.py`, loaded from the installed
package) on a stand-in for user32/shell32/kernel32, on any OS.

The stand-in is the `windll` those modules call: each Win32 function is a small Python function that keeps
the state Windows would (popup menus and their items, windows and their window procedures, a message
queue) and records what it was asked. TrackPopupMenuEx, the modal menu, hands control to `person`: a test
function that opens submenus (WM_INITMENUPOPUP sent to the menu's owner window, as Windows does), lets the
posted messages run (Windows' modal menu loop dispatches them), reads the items and returns the ID of the
one clicked, or 0.

Only the Win32 calls are stood in for: the window procedure, the message loop and every line of pystray
and of tray.ui.winmenu are the real ones.
"""

from __future__ import annotations

import ctypes
import itertools
import queue
import sys
import threading
from pathlib import Path
from types import ModuleType

WM_QUIT = 0x0012
WM_INITMENUPOPUP = 0x0117
WM_RBUTTONUP = 0x0205
MF_BYPOSITION = 0x0400
MIIM_STRING, MIIM_SUBMENU, MIIM_ID, MIIM_STATE = 0x40, 0x04, 0x02, 0x01
MFS_DISABLED = 0x03


def _deref(argument):
    """The structure behind a `ctypes.byref(...)` argument (pystray passes some structures by value)."""
    return getattr(argument, "_obj", argument)


class Item:
    __slots__ = ("text", "id", "state", "submenu", "separator")

    def __init__(self, info):
        self.separator = bool(info.fType & 0x800)
        self.text = info.dwTypeData if info.fMask & MIIM_STRING else None
        self.id = info.wID if info.fMask & MIIM_ID else 0
        self.state = info.fState if info.fMask & MIIM_STATE else 0
        self.submenu = info.hSubMenu if info.fMask & MIIM_SUBMENU else None

    @property
    def enabled(self) -> bool:
        return not self.state & MFS_DISABLED


class Windows:
    """The Win32 state and functions pystray and tray.ui.winmenu call."""

    def __init__(self):
        self.menus: dict[int, list[Item]] = {}
        self.menus_created = 0
        self.largest_id = 0
        self.posted: queue.Queue = queue.Queue()
        self.procs: dict[int, object] = {}  # class atom -> window procedure
        self.windows: dict[int, int] = {}  # hwnd -> class atom
        self.tips: list[str] = []
        self.person = None  # called by TrackPopupMenuEx: person(windows, hmenu, owner) -> the chosen ID
        self.tracking = threading.Event()
        self._handles = itertools.count(0x1000)
        self._messages = itertools.count(0xC000)
        self._registered: dict[str, int] = {}

    # --- menus ---
    def CreatePopupMenu(self):
        handle = next(self._handles)
        self.menus[handle] = []
        self.menus_created += 1
        return handle

    def InsertMenuItemW(self, hmenu, position, by_position, info_ref):
        item = Item(_deref(info_ref))
        self.largest_id = max(self.largest_id, item.id)
        self.menus[hmenu].insert(position, item)
        return True

    def SetMenuItemInfoW(self, hmenu, position, by_position, info_ref):
        info = _deref(info_ref)
        if info.fMask & MIIM_STRING:
            self.menus[hmenu][position].text = info.dwTypeData
        return True

    def GetMenuItemCount(self, hmenu):
        return len(self.menus[hmenu])

    def DeleteMenu(self, hmenu, position, flags):
        assert flags & MF_BYPOSITION
        item = self.menus[hmenu].pop(position)
        if item.submenu:
            self.DestroyMenu(item.submenu)
        return True

    def DestroyMenu(self, hmenu):
        for item in self.menus.pop(hmenu):
            if item.submenu:
                self.DestroyMenu(item.submenu)
        return True

    def TrackPopupMenuEx(self, hmenu, flags, x, y, owner, params):
        self.tracking.set()
        try:
            return self.person(self, hmenu, owner) if self.person else 0
        finally:
            self.tracking.clear()

    # --- what a person does with a menu (called from `person`) ---
    def texts(self, hmenu) -> list[str]:
        return ["-" if i.separator else i.text for i in self.menus[hmenu]]

    def item(self, hmenu, text: str) -> Item:
        return next(i for i in self.menus[hmenu] if i.text == text)

    def open(self, owner, hmenu, text: str) -> int:
        """Open the submenu of the item `text`: Windows sends WM_INITMENUPOPUP to the owner first."""
        item = self.item(hmenu, text)
        index = self.menus[hmenu].index(item)
        self._send(owner, WM_INITMENUPOPUP, item.submenu, index)
        return item.submenu

    def pump(self) -> None:
        """What the modal menu loop does with messages posted meanwhile: dispatches them."""
        while not self.posted.empty():
            hwnd, message, wparam, lparam = self.posted.get()
            self._send(hwnd, message, wparam, lparam)

    def live_menus(self) -> int:
        return len(self.menus)

    # --- windows and messages ---
    def RegisterClassExW(self, wndclass_ref):
        atom = next(self._handles)
        self.procs[atom] = _deref(wndclass_ref).lpfnWndProc
        return atom

    def CreateWindowExW(self, ex_style, atom, name, style, x, y, w, h, parent, menu, instance, param):
        hwnd = next(self._handles)
        self.windows[hwnd] = atom
        return hwnd

    def _send(self, hwnd, message, wparam, lparam):
        return self.procs[self.windows[hwnd]](hwnd, message, wparam, lparam)

    def PostMessageW(self, hwnd, message, wparam, lparam):
        self.posted.put((hwnd, message, wparam, lparam))
        return True

    def PostQuitMessage(self, code):
        self.posted.put((None, WM_QUIT, code, 0))

    def GetMessageW(self, msg_ref, hwnd, first, last):
        target, message, wparam, lparam = self.posted.get()
        msg = _deref(msg_ref)
        msg.hWnd, msg.message, msg.wParam, msg.lParam = target, message, wparam, lparam
        return 0 if message == WM_QUIT else 1

    def DispatchMessageW(self, msg_ref):
        msg = _deref(msg_ref)
        return self._send(msg.hWnd, msg.message, msg.wParam, msg.lParam)

    def RegisterWindowMessageW(self, name):
        return self._registered.setdefault(name, next(self._messages))

    def Shell_NotifyIconW(self, code, data):
        self.tips.append(data.szTip)
        return True

    def GetCursorPos(self, point_ref):
        point = _deref(point_ref)
        point.x, point.y = 1000, 700
        return True

    def LoadImageW(self, *args):
        return next(self._handles)

    def DefWindowProcW(self, *args):
        return 0

    def PeekMessageW(self, *args):
        return 0

    def _true(self, *args):
        return True

    TranslateMessage = SetForegroundWindow = DestroyWindow = DestroyIcon = UnregisterClassW = _true
    ChangeWindowMessageFilterEx = _true

    def GetModuleHandleW(self, name):
        return 1


class _Function:
    """A DLL function as ctypes shows it (argtypes, restype, errcheck can be set), run by the stand-in."""

    def __init__(self, run):
        self._run = run
        self.argtypes, self.restype, self.errcheck = (), None, None

    def __call__(self, *args):
        return self._run(*args)


def load(monkeypatch) -> tuple[Windows, ModuleType]:
    """Load pystray's real Win32 modules on the stand-in; (the stand-in, the `pystray._win32` module)."""
    monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")  # pystray's own choice would open the display on Linux
    import pystray
    import pystray._util

    windows = Windows()

    class DLL:
        def __init__(self, name):
            self._functions = {}

        def __getattr__(self, name):
            if name.startswith("_"):
                raise AttributeError(name)
            functions = self.__dict__["_functions"]
            if name not in functions:
                functions[name] = _Function(getattr(windows, name))
            return functions[name]

    for name, value in (("WinDLL", DLL), ("WINFUNCTYPE", ctypes.CFUNCTYPE), ("HRESULT", ctypes.c_long),
                        ("WinError", lambda *args: OSError("a Win32 call failed"))):
        if not hasattr(ctypes, name) or sys.platform == "win32":
            monkeypatch.setattr(ctypes, name, value, raising=False)
    root = Path(pystray.__file__).parent
    win32 = _module("pystray._util.win32", root / "_util" / "win32.py", monkeypatch)
    monkeypatch.setattr(pystray._util, "win32", win32, raising=False)
    backend = _module("pystray._win32", root / "_win32.py", monkeypatch)
    return windows, backend


def _module(name: str, path: Path, monkeypatch) -> ModuleType:
    module = ModuleType(name)
    module.__file__ = str(path)
    module.__package__ = name.rpartition(".")[0]
    monkeypatch.setitem(sys.modules, name, module)
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), module.__dict__)
    return module

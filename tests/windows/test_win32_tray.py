"""tray.ui.windows in Windows CPython under Wine: DPI awareness and the icon's size, asked of user32."""

from __future__ import annotations

import json

from lane import lane, timed, windows_python  # noqa: F401 (fixtures)

PROBE = r"""
import ctypes, json
from ctypes import wintypes
from tray.ui import windows

way = windows.make_dpi_aware()
user32, gdi32 = ctypes.windll.user32, ctypes.windll.gdi32
user32.GetThreadDpiAwarenessContext.restype = ctypes.c_void_p
user32.GetAwarenessFromDpiAwarenessContext.argtypes = [ctypes.c_void_p]
awareness = user32.GetAwarenessFromDpiAwarenessContext(user32.GetThreadDpiAwarenessContext())

import pystray
from PIL import Image

size = windows.small_icon_size()
icon = windows.icon_class(pystray.Icon)("probe", icon=Image.new("RGBA", (size, size), (200, 30, 30, 255)))
icon._assert_icon_handle()

class ICONINFO(ctypes.Structure):
    _fields_ = [("fIcon", wintypes.BOOL), ("xHotspot", wintypes.DWORD), ("yHotspot", wintypes.DWORD),
                ("hbmMask", wintypes.HBITMAP), ("hbmColor", wintypes.HBITMAP)]

class BITMAP(ctypes.Structure):
    _fields_ = [("bmType", wintypes.LONG), ("bmWidth", wintypes.LONG), ("bmHeight", wintypes.LONG),
                ("bmWidthBytes", wintypes.LONG), ("bmPlanes", wintypes.WORD), ("bmBitsPixel", wintypes.WORD),
                ("bmBits", ctypes.c_void_p)]

user32.GetIconInfo.argtypes = [ctypes.c_void_p, ctypes.POINTER(ICONINFO)]
gdi32.GetObjectW.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
info, bitmap = ICONINFO(), BITMAP()
assert user32.GetIconInfo(icon._icon_handle, ctypes.byref(info))
gdi32.GetObjectW(info.hbmColor, ctypes.sizeof(bitmap), ctypes.byref(bitmap))
print(json.dumps({"way": way, "awareness": awareness, "size": size, "metric": user32.GetSystemMetrics(49),
                  "large": user32.GetSystemMetrics(11), "loaded": bitmap.bmWidth}))
"""


def test_the_tray_is_dpi_aware_and_loads_its_icon_at_the_small_icon_size(windows_python):
    result = windows_python.run("-c", PROBE, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    # Wine 8 refuses DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2 (ERROR_INVALID_PARAMETER) and starts every
    # process aware already, so here the fallback is what succeeds; on Windows 10 1703+ it is "per-monitor v2"
    assert probe["way"] in ("per-monitor v2", "per-monitor", "system"), probe
    assert probe["awareness"] in (1, 2), probe  # DPI_AWARENESS_SYSTEM_AWARE, DPI_AWARENESS_PER_MONITOR_AWARE
    assert probe["size"] == probe["metric"] < probe["large"]  # 16 and 32 at 96 dpi
    assert probe["loaded"] == probe["size"]  # pystray's own load would give the large size

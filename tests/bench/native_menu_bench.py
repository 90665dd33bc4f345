"""Scenario 6, the menu on Windows and macOS: pystray's real `_win32.py` and `_darwin.py` with the tray's
menu code (tray.ui.winmenu, tray.ui.macmenu) on the stand-ins of tests/win32_standin.py and
tests/appkit_standin.py, against pystray's own icons, at N accounts x 3 roles with N configured profiles:

- native menus made by a build (CreatePopupMenu calls, NSMenus), and the build's time on the UI thread;
- the build's time on the engine's thread (the State to pystray descriptors);
- CPU (all threads) of one minute's tick: the new time left shown in the menu.

The stand-ins cost next to nothing, so these are the Python side's figures: what the platform itself
spends making a menu is not in them (see README "Platforms").
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from harness import Result, Sample  # noqa: E402

COUNTS = (1000, 5000)
TICKS = 10


def _timed_on_ui_thread(tray, fn) -> float:
    took = []

    def run():
        started = time.perf_counter()
        fn()
        took.append(time.perf_counter() - started)

    tray.surface.call(run)
    tray.drained()
    return took[0]


def measure(backend: str, n: int, fixed: bool) -> Result:
    from test_native_menus import NOW, MacTray, WindowsTray, big_state

    from tray.core.engine.state import State
    from tray.ui import menu

    state = big_state(n, configured=n)
    with pytest.MonkeyPatch.context() as monkeypatch:
        tray = (WindowsTray if backend == "windows" else MacTray)(monkeypatch, state, fixed)
        try:
            started = time.perf_counter()
            pystray_menu = menu.to_pystray(menu.build(state, tray.actions))
            engine_side = time.perf_counter() - started
            before = tray.native_menus()
            runs = 3 if fixed else 1  # pystray's own takes seconds a build
            builds = [_timed_on_ui_thread(tray, tray.icon._update_menu) for _ in range(runs)]
            per_build = (tray.native_menus() - before) // runs
            cpu = time.process_time()
            for minute in range(1, TICKS + 1):
                tray.view.show(State(NOW + timedelta(minutes=minute), state.sessions))
                tray.drained()
            tick_cpu = (time.process_time() - cpu) / TICKS
            assert pystray_menu
        finally:
            tray.stop()
    name = "sso-tray" if fixed else "pystray's own"
    return Result(f"6 {backend} menu, {n}x3 roles, {n} profiles", name, [Sample(b, 0.0) for b in builds], {
        "native_menus_per_build": per_build, "ui_build_ms_median": round(sorted(builds)[len(builds) // 2] * 1000, 1),
        "engine_build_ms": round(engine_side * 1000, 1), "cpu_per_minute_tick_ms": round(tick_cpu * 1000, 1)})


PYSTRAY_UP_TO = 1000  # pystray's own icons are measured up to this many accounts: a minute a build beyond


def native_menu_scenarios(counts=COUNTS) -> list[Result]:
    results = []
    for backend in ("windows", "macos"):
        for n in counts:
            results.append(measure(backend, n, fixed=True))
            if n <= PYSTRAY_UP_TO:
                results.append(measure(backend, n, fixed=False))
    return results


if __name__ == "__main__":
    from harness import table

    wanted = tuple(int(a) for a in sys.argv[1:]) or COUNTS
    print(table(native_menu_scenarios(wanted)))

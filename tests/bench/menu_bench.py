"""Scenario 5, the menu's cost as the directory grows: the real tray (AppIndicator) on a virtual desktop,
signed in to the simulator with N accounts x 3 roles, measured after it has listed them all:

- resident memory (VmRSS) once the listing has settled, its high-water mark (VmHWM), and both against
  the same tray with 3 accounts;
- how many items the tray exports over D-Bus (what libdbusmenu mirrors, and a panel reads);
- how long a panel waits to open the menu (AboutToShow(0) + GetLayout of the whole exported tree) and a
  submenu opened for the first time (AboutToShow(id) + GetLayout(id)): an account group, an account in it,
  a role in that, each made only then.
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from desktop import DBusMenu, MenuNode, VirtualDesktop, proc_status, wait_for  # noqa: E402
from harness import Result, Sample  # noqa: E402
from run import World  # noqa: E402

COUNTS = (3, 300, 1000, 5000)


def _listed(n: int):
    """A check that the bench session's n accounts are listed (in one "Accounts" submenu or groups when many,
    by name when few) and no listing is under way."""
    def check(layout: MenuNode) -> bool:
        labels = layout.labels()
        section = labels[labels.index("bench accounts") + 1:] if "bench accounts" in labels else []
        section = section[: section.index("-")] if "-" in section else section
        named = [lab for lab in section if re.fullmatch(r".+ \(\d{12}\)", lab)]
        grouped = [lab for lab in section if lab == "Accounts" or lab.startswith("Accounts ")]
        busy = any(lab.startswith("Refreshing") for lab in labels)
        return not busy and ((len(grouped) >= 2 or grouped == ["Accounts"]) if n > 15 else len(named) == n)
    return check


def _timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def _open(menu: DBusMenu, node: MenuNode) -> tuple[float, MenuNode]:
    """A panel opening a submenu: AboutToShow, then GetLayout of it."""
    return _timed(lambda: (menu.about_to_show(node.id), menu.subtree(node.id))[1])


def _descend(menu: DBusMenu, node: MenuNode) -> list[float]:
    """Open `node`, then its first child with a submenu, down to a role's actions: the seconds each took."""
    times = []
    while node.children:
        elapsed, node = _open(menu, node)
        times.append(elapsed)
        node = next((c for c in node.children if c.children), None)
        if node is None:
            break
    return times


def menu_scenarios(counts=COUNTS, roles: int = 3, settle: float = 5.0) -> list[Result]:
    results = []
    base = None
    for n in counts:
        # a desktop of its own for each: the first tray on a desktop uses more memory than later ones
        with tempfile.TemporaryDirectory() as tmp, VirtualDesktop(Path(tmp) / "desktop") as desktop:
            world = World(accounts=n, roles=roles)
            try:
                tray = desktop.start_tray(Path(tmp) / f"logs{n}", env={**desktop.env, **world.env})
                started = time.monotonic()
                listed = _listed(n)
                wait_for(lambda: listed(tray.layout()), 600, 0.5, f"the tray to list {n} accounts")
                listed_s = time.monotonic() - started
                time.sleep(settle)  # the listing's garbage collected, the exported menu idle
                rss, hwm = proc_status(tray.pid, "VmRSS") / 2**20, proc_status(tray.pid, "VmHWM") / 2**20
                menu = tray.menu()
                tops, exported = [], 0
                for _ in range(5):
                    elapsed, root = _timed(lambda: (menu.about_to_show(0), menu.layout())[1])
                    tops.append(elapsed)
                    exported = sum(1 for _ in root.walk())
                section = root.labels().index("bench accounts")
                firsts = [c for c in root.children[section + 1:] if c.children][:5]
                opened = [_descend(menu, group) for group in firsts]
                submenus = [t for path in opened for t in path]
                base = base or rss
                r = Result(f"5 tray menu, {n}x{roles} roles", "sso-tray", [Sample(t, rss) for t in tops], {
                    "RSS_x_3_accounts": round(rss / base, 2), "VmHWM_mib": round(hwm), "exported_items": exported,
                    "submenu_open_ms_median": round(statistics.median(submenus) * 1000, 1),
                    "submenu_open_ms_max": round(max(submenus) * 1000, 1), "levels": max(len(p) for p in opened),
                    "listed_s": round(listed_s, 1)})
                results.append(r)
                tray.stop()
            finally:
                world.close()
    return results


if __name__ == "__main__":
    from harness import table

    wanted = tuple(int(a) for a in sys.argv[1:]) or COUNTS
    print(table(menu_scenarios(wanted)))

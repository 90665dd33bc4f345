"""Scenario 4, the tray itself, on a virtual desktop (Xvfb, trayer, a session bus with dunst):
process start to icon docked; its memory once it has listed 3 and 5000 accounts (of 3 roles); peak RSS
and CPU seconds over a minute idle with 25 and 300 accounts."""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from desktop import VirtualDesktop, cpu_seconds, proc_status, wait_for  # noqa: E402
from harness import Result, Sample  # noqa: E402
from run import World  # noqa: E402


def start(desktop: VirtualDesktop, world: World, logdir: Path):
    env = {**desktop.env, **world.env}
    return desktop.start_tray(logdir, env=env)


# A listed account in the menu: "acct-1 (111100000001)" itself, or a submenu of them ("Accounts", or a group
# "Accounts acct-1 … acct-9").
_ACCOUNT_SHOWN = re.compile(r"^Accounts( |$)|\(\d{12}\)$")


def memory_scenarios() -> list[Result]:
    """The tray's peak resident memory (VmHWM) once it has listed every account (no cache yet): with 3
    accounts, with 5000 in one session, and with the World's legacy session on the same 5000 beside it
    (10000 listed). Wall: start to listed. Notes: VmRSS then, and the peak as a multiple of the 3-account one."""
    results: list[Result] = []
    base = None
    with tempfile.TemporaryDirectory() as tmp, VirtualDesktop(Path(tmp) / "desktop") as desktop:
        for accounts, legacy in ((3, False), (5000, False), (5000, True)):
            world = World(accounts=accounts, roles=3, legacy=legacy)
            try:
                tray = start(desktop, world, Path(tmp) / f"memory{accounts}{legacy}")
                cache = Path(world.env["XDG_CACHE_HOME"]) / "sso-tray" / "accounts"
                sessions = 2 if legacy else 1
                wait_for(lambda: cache.is_dir() and len(list(cache.glob("*.json"))) >= sessions, 300, 0.1, "the accounts listed")
                wait_for(lambda: [n for _, n in tray.layout().walk() if _ACCOUNT_SHOWN.search(n.label)], 60, 0.1, "the accounts in the menu")
                listed = time.monotonic() - tray.started
                peak, now = proc_status(tray.pid, "VmHWM") / 2**20, proc_status(tray.pid, "VmRSS") / 2**20
                tray.stop()
            finally:
                world.close()
            base = base or peak
            name = f"4 tray memory once listed, {accounts}x3 roles" + (" + legacy session (10000 listed)" if legacy else "")
            results.append(Result(name, "sso-tray", [Sample(listed, peak)], {"VmRSS_mib": round(now, 1), "x_3_accounts": round(peak / base, 2)}))
    return results


def tray_scenarios(runs: int = 5, idle_seconds: float = 60.0) -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory() as tmp, VirtualDesktop(Path(tmp) / "desktop") as desktop:
        world = World(accounts=25, roles=2)
        try:
            startup = Result("4 tray start → icon docked (25 accounts)", "sso-tray")
            for i in range(runs + 1):
                before = set(desktop.tray_icons())
                tray = start(desktop, world, Path(tmp) / f"logs{i}")
                wait_for(lambda: set(desktop.tray_icons()) - before, 15, 0.005, "the icon")
                elapsed = time.monotonic() - tray.started
                tray.menu()  # fully up before it is stopped
                if i:
                    startup.samples.append(Sample(elapsed, proc_status(tray.pid, "VmHWM") / 2**20))
                tray.stop()
            results.append(startup)
        finally:
            world.close()
        for accounts in (25, 300):
            world = World(accounts=accounts, roles=3)
            try:
                tray = start(desktop, world, Path(tmp) / f"idle{accounts}")
                listed = lambda m: m if any(c.label == "Accounts" or c.label.startswith(("Accounts ", "dev-0 (")) for c in m.children) else None  # noqa: E731
                layout = wait_for(lambda: listed(tray.layout()), 60, 0.2, "the accounts in the menu")
                time.sleep(20)  # let the menu export and the first listing settle before measuring idle
                first_label = layout.children[0].label
                cpu0 = cpu_seconds(tray.pid)
                time.sleep(idle_seconds)
                cpu = cpu_seconds(tray.pid) - cpu0
                after = tray.layout().children[0]
                relabelled = after.label != first_label  # the minute's status text, without a rebuild
                rss = proc_status(tray.pid, "VmHWM") / 2**20
                results.append(Result(f"4 tray idle {idle_seconds:.0f} s, {accounts}x3 roles", "sso-tray", [Sample(idle_seconds, rss)],
                                      {"cpu_s": round(cpu, 3), "status text moved on": relabelled}))
                tray.stop()
            finally:
                world.close()
    return results


if __name__ == "__main__":
    from harness import table

    rs = memory_scenarios() + tray_scenarios(runs=3, idle_seconds=float(sys.argv[1]) if len(sys.argv) > 1 else 60)
    print(table(rs))
    for r in rs:
        print(r.scenario, statistics.median(r.walls), r.extra)

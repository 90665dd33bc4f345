"""The menu's cost stays bounded as the directory grows, measured on the real tray (AppIndicator, a virtual
desktop, the simulator): with 1000 accounts x 3 roles its resident memory stays near what it is with 3,
and the menu and its submenus open at once. The bounds here are generous (a busy machine must not fail
them); `scripts/bench --only menu` prints the measured figures at 3, 300, 1000 and 5000 accounts."""

from __future__ import annotations

import sys

import pytest

from conftest import ROOT, need_program

pytestmark = pytest.mark.display


def test_memory_and_opening_times_at_1000_accounts_stay_near_those_at_3():
    need_program("Xvfb")
    sys.path.insert(0, str(ROOT / "tests" / "bench"))
    from menu_bench import menu_scenarios

    small, large = menu_scenarios((3, 1000), settle=2.0)
    rss_small, rss_large = small.rss[0], large.rss[0]
    assert rss_large <= 1.5 * rss_small, f"{rss_large:.0f} MiB with 1000 accounts, {rss_small:.0f} MiB with 3"
    assert large.extra["exported_items"] < 200, large.extra  # what libdbusmenu mirrors before anything is opened
    assert max(large.walls) < 1.0, large.walls  # the whole menu, as a panel reads it
    assert large.extra["submenu_open_ms_max"] < 500, large.extra  # a group, an account, a role: each made when opened
    assert large.extra["levels"] >= 4  # group → group → account → role: really opened down to the role

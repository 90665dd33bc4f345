"""What keeps the tray's memory small (the figures themselves are in scripts/bench): GTK starts without
OpenGL, so no GL driver (Mesa's llvmpipe with all of LLVM) is loaded into the tray, and the programs the tray
starts do not inherit GDK_GL; listing thousands of accounts keeps a bounded number of them waiting."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import need_program, run_cli
from desktop import VirtualDesktop, wait_for

GL_DRIVERS = ("libLLVM", "_dri.so", "libGLX_mesa", "libGLX_nvidia")


@pytest.mark.display
def test_the_tray_loads_no_gl_driver_and_passes_no_gdk_gl_on(sso_env, home, tmp_path):
    need_program("trayer")
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    # $BROWSER is a program the tray starts ("Find a role…"): it writes down whether it got GDK_GL
    seen = tmp_path / "browser-env"
    browser = tmp_path / "browser.py"
    browser.write_text(f"import os, sys\nopen({str(seen)!r}, 'w', encoding='utf-8').write(os.environ.get('GDK_GL', 'unset'))\n",
                       encoding="utf-8")
    with VirtualDesktop(tmp_path / "desktop") as desktop:
        env = {**desktop.env, **{k: v for k, v in os.environ.items() if k.startswith(("AWS_", "XDG_")) or k == "HOME"},
               "BROWSER": f"{sys.executable} {browser} %s"}
        env.pop("GDK_GL", None)
        tray = desktop.start_tray(tmp_path / "logs", env=env)
        try:
            tray.wait_menu(lambda m: any(c.label.startswith("dev — ") for c in m.children), 30, what="the session's status")
            maps = Path(f"/proc/{tray.pid}/maps").read_text(encoding="utf-8")
            assert "libgtk-3" in maps  # it is the GTK tray
            assert not [line for line in maps.splitlines() if any(d in line for d in GL_DRIVERS)]
            tray.click("Find a role…")
            assert wait_for(lambda: seen.exists() and seen.read_text(encoding="utf-8"), 30, 0.1, "the browser") == "unset"
        finally:
            tray.stop()


def test_listing_thousands_of_accounts_keeps_few_waiting(signed_in_dev, monkeypatch):
    """Each account waiting for its roles holds a Future (about a kilobyte): all of them queued at once were
    most of a tray's memory peak at 5000 accounts. At most two per worker wait now, and every one is found."""
    from tray.core.identity import accounts
    from tray.core.identity.config import AwsConfig
    from tray.core.identity.sessions import valid_token

    queued = []

    class CountingPool(ThreadPoolExecutor):
        def submit(self, *args, **kwargs):
            queued.append(self._work_queue.qsize())
            return super().submit(*args, **kwargs)

    monkeypatch.setattr(accounts, "ThreadPoolExecutor", CountingPool)
    signed_in_dev.options.accounts, signed_in_dev.options.roles_per_account = 600, 2
    session = AwsConfig.load().session("dev")
    discovery = accounts.discover(session, valid_token(session), workers=4)
    assert len(discovery.accounts) == 600 and discovery.role_count == 1200
    assert len(queued) == 600 and max(queued) <= 2 * 4


@pytest.fixture
def signed_in_dev(sso_env):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    return sso_env

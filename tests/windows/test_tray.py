"""The real tray under Wine: `python -m tray run` in Windows CPython 3.13 with pystray's Win32 backend,
docked into trayer on Xvfb, against the simulator (on Linux, 127.0.0.1) with 1000 accounts x 3 roles
and 20 configured profiles, driven with xdotool and read back with xclip, as a person would use it.

Native menus are counted by the lane's hook (tests/windows/wine.py MENU_COUNTER): Wine neither enforces
the 10,000 USER objects per process nor answers GetGuiResources.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import BROWSERS, ROOT, START_URL, need_program, sim_accounts
from desktop import VirtualDesktop, cpu_seconds, wait_for
from lane import figure, lane, timed, windows_python  # noqa: F401 (fixtures)
from tray.simulator import Simulator, SimulatorOptions
from wine import winpath

ACCOUNTS, ROLES, PROFILES = 1000, 3, 20
LARGE = (5000, 5000)  # accounts (x 3 roles) and configured profiles: the directory issue 18 bounds the menu at
REFRESHING = "Refreshing accounts"  # the menu's line while the account list loads
MENUS_BOUND, BUILD_BOUND, IDLE_CPU_BOUND = 500, 0.5, 0.2


def config_text(sim, profiles: int) -> str:
    lines = [f"[sso-session dev]\nsso_start_url = {START_URL}\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n"]
    for i, account in enumerate(sim_accounts(sim)[:profiles]):
        lines.append(f"[profile team-{i:02d}]\nsso_session = dev\nsso_account_id = {account.account_id}\n"
                     f"sso_role_name = {account.roles[0]}\nregion = eu-west-1\n")
    return "\n".join(lines)


# What the shell does when the person clicks a balloon: the icon's callback message, with
# NIN_BALLOONUSERCLICK, to the window that owns the icon (pystray's: class "sso-tray<id>SystemTrayIcon").
# Wine 8 draws the balloon but relays no click on it (dlls/winex11.drv/systray.c), so a Windows program
# in the same prefix sends it, as Explorer would.
BALLOON_CLICK = r"""
import ctypes, re
from ctypes import wintypes
user32 = ctypes.windll.user32
WM_NOTIFY = 0x0400 + 11  # pystray's callback message
NIN_BALLOONUSERCLICK = 0x0400 + 5
found = []

@ctypes.WINFUNCTYPE(wintypes.BOOL, wintypes.HWND, wintypes.LPARAM)
def each(hwnd, _):
    name = ctypes.create_unicode_buffer(256)
    user32.GetClassNameW(hwnd, name, 256)
    if re.fullmatch(r"sso-tray\d+SystemTrayIcon", name.value):
        found.append(hwnd)
    return True

user32.EnumWindows(each, 0)
for hwnd in found:
    user32.SendNotifyMessageW(hwnd, WM_NOTIFY, 0, NIN_BALLOONUSERCLICK)
print(len(found))
"""


def sign_in_on_linux(root: Path, sim) -> None:
    """A signed-in session in `root`, made by the Linux sso-tray (the same files the Windows one reads)."""
    env = {**os.environ, "SSO_TRAY_ROOT": str(root), "AWS_ENDPOINT_URL_SSO": sim.url, "AWS_ENDPOINT_URL_SSO_OIDC": sim.url,
           "BROWSER": f"{sys.executable} {BROWSERS / 'fetch.py'} %s"}
    result = subprocess.run([sys.executable, "-m", "tray", "login", "--sso-session", "dev"], env=env, capture_output=True,
                            text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr


class WineTray:
    """The Windows tray's process; its output read through pipes (Wine's CPython refuses files), copied to
    files by threads."""

    def __init__(self, python, desktop: VirtualDesktop, root: Path, sim, workdir: Path):
        self.menu_log = workdir / "menus.jsonl"
        self.stderr_path = workdir / "tray.stderr"
        browser = f"{python.exe.replace(chr(92), '/')} {winpath(BROWSERS / 'fetch.py').replace(chr(92), '/')} %s"
        env = python.env(desktop.env, SSO_TRAY_ROOT=winpath(root), AWS_ENDPOINT_URL_SSO=sim.url,
                         AWS_ENDPOINT_URL_SSO_OIDC=sim.url, SSO_TRAY_LANE_MENU_LOG=winpath(self.menu_log),
                         SSO_TRAY_TEST_BROWSER_LOG=winpath(workdir / "browser.log"), BROWSER=browser)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(python.argv("-m", "tray", "run"), env=env, cwd=ROOT, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.desktop = desktop
        for stream, path in ((self.proc.stdout, workdir / "tray.stdout"), (self.proc.stderr, self.stderr_path)):
            threading.Thread(target=_copy, args=(stream, path), daemon=True).start()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace") if self.stderr_path.exists() else ""

    def builds(self) -> list[dict]:
        if not self.menu_log.exists():
            return []
        return [json.loads(line) for line in self.menu_log.read_text(encoding="utf-8").splitlines() if line.strip()]

    def menu_with(self, text: str, timeout: float = 120, settled: bool = False) -> dict:
        """The newest menu build that holds `text` at its first levels (`settled`: and every account). A build
        that failed, or the tray's exit, fails at once."""
        def found():
            if self.proc.poll() is not None:
                return {"error": f"the tray exited {self.proc.returncode}: {self.stderr[-3000:]}"}
            builds = self.builds()
            failed = [b for b in builds if b["error"]]
            if failed:
                return {"error": f"a menu build failed after {failed[0]['menus']} native menus: {failed[0]['error']}"}
            if not builds:
                return None
            shown = json.dumps(builds[-1]["labels"], ensure_ascii=False)
            return text in shown and not (settled and REFRESHING in shown) and builds[-1]
        build = wait_for(found, timeout, 0.5, f"a menu holding {text!r}")
        assert not build["error"], build["error"]
        return build

    def pid(self) -> int:
        return self.proc.pid  # wine64 execs the preloader, which runs python.exe in this same process

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _copy(stream, path: Path) -> None:
    with open(path, "wb") as out:
        for chunk in iter(lambda: stream.read1(4096), b""):
            out.write(chunk)
            out.flush()


def keys_to(labels: list, path: list[str]) -> list[str]:
    """The keys that walk an open Win32 popup menu (nothing selected yet) to the item at `path` and run it:
    Down moves over every item but separators, Right opens a submenu at its first item, Return runs."""
    keys, level = [], labels
    for depth, text in enumerate(path):
        items = [entry for entry in level if entry[0] != "-"]
        index = next(i for i, entry in enumerate(items) if entry[0] == text)
        keys += ["Down"] * (index + (1 if depth == 0 else 0))
        keys.append("Right" if depth < len(path) - 1 else "Return")
        level = items[index][1]
    return keys


def find_path(labels: list, leaf, below: str, prefix: tuple = ()) -> list[str] | None:
    """The path to the first item whose text satisfies `leaf`, inside the item named `below`."""
    for text, children in labels:
        if text == below:
            first = next((c[0] for c in children if leaf(c[0])), None)
            if first is not None:
                return [*prefix, text, first]
        found = find_path(children, leaf, below, (*prefix, text))
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def simulators():
    """The simulator with N accounts x 3 roles, started once per module for each N asked for."""
    started: dict[int, Simulator] = {}

    def with_accounts(accounts: int) -> Simulator:
        if accounts not in started:
            options = SimulatorOptions(auto_approve=True, accounts=accounts, roles_per_account=ROLES)
            started[accounts] = Simulator(options, host="127.0.0.1", port=0).start()
        return started[accounts]

    yield with_accounts
    for sim in started.values():
        sim.stop()


@pytest.fixture
def directory() -> tuple[int, int]:
    """(accounts, configured profiles) of the tray's directory."""
    return ACCOUNTS, PROFILES


@pytest.fixture
def token_lifetime():
    """Seconds the sign-in before the tray starts lasts (the simulator's default: 8 hours)."""
    return None


@pytest.fixture
def wine_tray(windows_python, simulators, tmp_path, token_lifetime, directory):
    """The Windows tray, signed in, docked into trayer on a private Xvfb."""
    accounts, profiles = directory
    big_simulator = simulators(accounts)
    root = tmp_path / "root"
    (root / ".aws").mkdir(parents=True)
    (root / ".aws" / "config").write_text(config_text(big_simulator, profiles), encoding="utf-8")
    options = big_simulator.options
    defaults = options.token_lifetime, options.refresh_tokens
    if token_lifetime:  # a session that cannot be renewed and ends soon
        options.token_lifetime, options.refresh_tokens = token_lifetime, False
    try:
        sign_in_on_linux(root, big_simulator)
    finally:
        options.token_lifetime, options.refresh_tokens = defaults
    with VirtualDesktop(tmp_path / "desktop", bus=False) as desktop:
        tray = WineTray(windows_python, desktop, root, big_simulator, tmp_path)
        tray.root, tray.python = root, windows_python
        try:
            yield tray
        finally:
            tray.stop()
            windows_python.stop()


def open_menu(tray: WineTray, button: int = 3) -> None:
    """Click the docked icon; once the menu shows, rest the pointer on its frame: with no window manager
    the keyboard goes to the window under the pointer, and on the frame it selects no item."""
    tray.desktop.click_icon(button=button)
    x0, y0, _x1, _y1 = wait_for(tray.desktop.popup_windows, 15, 0.2, "the tray's menu on screen")[0]
    tray.desktop.move_mouse(x0 + 1, y0 + 1)


def test_the_icon_docks_and_a_right_click_opens_the_menu(wine_tray):
    wait_for(wine_tray.desktop.tray_icons, 60, 0.2, "the Windows icon docked in trayer")
    figure(f"Windows tray started to docked icon: {time.monotonic() - wine_tray.started:.1f} s")
    wine_tray.menu_with("team-00")
    open_menu(wine_tray)
    wine_tray.desktop.press("Escape")
    wait_for(lambda: not wine_tray.desktop.popup_windows(), 15, 0.2, "the menu closed")


def test_a_left_click_opens_the_menu_too(wine_tray):
    wait_for(wine_tray.desktop.tray_icons, 60, 0.2, "the Windows icon docked in trayer")
    wine_tray.menu_with("team-00")
    open_menu(wine_tray, button=1)
    wine_tray.desktop.press("Escape")
    wait_for(lambda: not wine_tray.desktop.popup_windows(), 15, 0.2, "the menu closed")


def test_copy_puts_the_profiles_export_lines_on_the_clipboard(wine_tray):
    need_program("xclip")
    wait_for(wine_tray.desktop.tray_icons, 60, 0.2, "the Windows icon docked in trayer")
    build = wine_tray.menu_with("team-05", timeout=300, settled=True)
    path = find_path(build["labels"], lambda text: text.startswith("Copy export lines"), "team-05")
    assert path, json.dumps(build["labels"])[:3000]
    open_menu(wine_tray)
    for key in keys_to(build["labels"], path):
        wine_tray.desktop.press(key)
    text = wait_for(lambda: "AWS_SECRET_ACCESS_KEY" in wine_tray.desktop.clipboard() and wine_tray.desktop.clipboard(), 60, 0.5,
                    f"export lines on the clipboard after {' > '.join(path)}")
    assert re.search(r'^\$Env:AWS_ACCESS_KEY_ID="ASIA', text, re.M), text[:200]  # powershell: Windows' default format
    assert '$Env:AWS_REGION="eu-west-1"' in text


@pytest.mark.parametrize("directory", [(ACCOUNTS, PROFILES), pytest.param(LARGE, marks=[pytest.mark.slow, pytest.mark.timeout(900)])])
def test_the_menu_is_bounded(wine_tray, directory):
    try:
        build = wine_tray.menu_with("Accounts", timeout=600, settled=True)
    finally:
        for each in wine_tray.builds():
            figure(f"menu build at {directory[0]} x {ROLES} with {directory[1]} profiles: {each['menus']} native menus,"
                   f" {each['items']} item IDs, {each['seconds']:.2f} s" + (f", FAILED: {each['error']}" if each["error"] else ""))
    assert build["menus"] <= MENUS_BOUND
    assert build["seconds"] <= BUILD_BOUND
    assert build["items"] < 65536


@pytest.mark.slow
@pytest.mark.parametrize("directory", [(ACCOUNTS, PROFILES), pytest.param(LARGE, marks=pytest.mark.timeout(900))])
def test_idle_cpu_per_minute(wine_tray, directory):
    wine_tray.menu_with("Accounts", timeout=600, settled=True)
    pid = wine_tray.pid()
    assert "python.exe" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"), "not the tray's process"
    builds, before, start = len(wine_tray.builds()), cpu_seconds(pid), time.monotonic()
    wait_for(lambda: time.monotonic() - start >= 60, 70, 1.0, "a minute")  # one minute's tick, whatever it costs
    used = cpu_seconds(pid) - before
    figure(f"idle CPU of the Windows tray at {directory[0]} x {ROLES}: {used:.2f} s in {time.monotonic() - start:.0f} s,"
           f" {len(wine_tray.builds()) - builds} menu builds")
    assert used <= IDLE_CPU_BOUND


def token_expiry(root: Path) -> float:
    """Seconds from now until the session's token (the one file in the SSO cache holding one) expires."""
    from datetime import datetime, timezone

    for path in (root / ".aws" / "sso" / "cache").glob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        if "accessToken" in data:
            expires = datetime.strptime(data["expiresAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
            return (expires - datetime.now(timezone.utc)).total_seconds()
    raise AssertionError("no token in the SSO cache")


@pytest.mark.parametrize("token_lifetime", [600])
def test_a_balloon_click_starts_a_sign_in(wine_tray):
    """The session ends in 10 minutes: the tray warns in a balloon; a click on it signs in again."""
    assert token_expiry(wine_tray.root) < 600
    wait_for(wine_tray.desktop.tray_icons, 60, 0.2, "the Windows icon docked in trayer")
    wait_for(wine_tray.desktop.popup_windows, 60, 0.5, "the expiry warning's balloon on screen")
    clicked = wine_tray.python.run("-c", BALLOON_CLICK, env=wine_tray.python.env(wine_tray.desktop.env), timeout=60)
    assert clicked.stdout.strip() not in ("", "0"), clicked.stdout + clicked.stderr
    wait_for(lambda: token_expiry(wine_tray.root) > 3600, 90, 0.5, "a new sign-in's token (8 hours)")
    assert "/authorize" in (wine_tray.root.parent / "browser.log").read_text(encoding="utf-8")

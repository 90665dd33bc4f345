"""The real tray on a real (virtual) desktop: Xvfb + trayer + a private session bus + dunst, the
AppIndicator backend, `python -m tray run` as a person's session starts it, against the Identity Center
simulator. Everything is read the way a person or a panel sees it: screenshots of the docked icon,
the menu AppIndicator publishes over D-Bus (com.canonical.dbusmenu), the clipboard (xclip), the
notifications dunst received; and driven the same way: dbusmenu `clicked` events, a mouse click on the
icon, `dunstctl action`.

Screenshots land in artifacts/screenshots/ (icon-<state>.png, menu-<state>.png).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import BROWSERS, ROOT, need_program, run_cli, sim_accounts
from desktop import DesktopError, MenuNode, VirtualDesktop, colour_pixels, save_scaled, wait_for
from tray.core.naming import natural_key

pytestmark = pytest.mark.display

SHOTS = ROOT / "artifacts" / "screenshots"
STATUS_LEFT = re.compile(r"^dev — (\d+h )?\d+m left, until \d\d:\d\d$")


# --- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def desktop(tmp_path_factory):
    """One desktop for the module (Xvfb, session bus with dunst, trayer); each test starts its own tray."""
    need_program("xwininfo")
    need_program("import")
    with VirtualDesktop(tmp_path_factory.mktemp("desktop")) as d:
        yield d


@pytest.fixture
def start_tray(desktop, tmp_path, home):
    """Start `python -m tray run` on a desktop with the test's HOME, AWS_* and BROWSER (from os.environ);
    at teardown: SIGTERM (then SIGKILL), and whatever that tray left running (xclip, the clipboard
    helper, a browser) is ended too."""
    started = []

    def start(on: VirtualDesktop | None = None, name: str = "tray", env: dict | None = None, args=("run",)):
        d = on or desktop
        tray = d.start_tray(tmp_path / "logs", env=env, name=name, args=args)
        started.append((d, tray))
        return tray

    yield start
    for d, tray in started:
        tray.stop()
        d.end_processes(HOME=str(home))
    desktop.clear_notifications()


# --- the session's token cache -------------------------------------------------------------------------


def token_path(home: Path) -> Path:
    return home / ".aws" / "sso" / "cache" / (hashlib.sha1(b"dev").hexdigest() + ".json")


def sign_in(sim) -> dict:
    """A real token for [sso-session dev] from the simulator (PKCE, auto-approved), in this test's HOME."""
    from tray.core.identity.config import AwsConfig
    from tray.core.identity.signin import SignInOptions, login

    approve = sim.options.auto_approve
    sim.options.auto_approve = True
    try:
        login(AwsConfig.load().session("dev"), SignInOptions(opener=lambda url: urllib.request.urlopen(url, timeout=30).read()))
    finally:
        sim.options.auto_approve = approve
    return json.loads(token_path(Path.home()).read_text(encoding="utf-8"))


def set_token(home: Path, expires_in: float, refreshable: bool = True) -> dict:
    """Change the cached token's expiry (and drop its refresh token): as if signed in long ago."""
    path = token_path(home)
    body = json.loads(path.read_text(encoding="utf-8"))
    expires = datetime.now(timezone.utc) + timedelta(seconds=expires_in)
    body["expiresAt"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    if not refreshable:
        body.pop("refreshToken", None)
    path.write_text(json.dumps(body), encoding="utf-8")
    path.chmod(0o600)
    return body


def write_settings(home: Path, **values) -> None:
    path = home / ".config" / "sso-tray" / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values), encoding="utf-8")


# --- reading the menu and the icon ---------------------------------------------------------------------


def status(layout: MenuNode) -> str:
    return layout.children[0].label


def problem_text(layout: MenuNode) -> str:
    """The session's problem: the disabled, indented lines under its status line, joined."""
    lines = []
    for node in layout.children[1:]:
        if node.enabled or not node.label.startswith("    "):
            break
        lines.append(node.label.strip())
    return " ".join(lines)


ACCOUNT = re.compile(r"^(\d{12}|.+ \(\d{12}\))$")  # "name (id)", or the id alone before accounts are listed


def is_accounts_submenu(label: str) -> bool:
    """"Accounts" (up to 30 of them in one submenu) or a group of them ("Accounts dev-0 … dev-90")."""
    return label == "Accounts" or label.startswith("Accounts ")


def has_accounts(layout: MenuNode) -> bool:
    return any(ACCOUNT.match(c.label) or is_accounts_submenu(c.label) for c in layout.children)


def accounts_named(layout: MenuNode) -> bool:
    """Discovery has finished: account items carry names, not only ids."""
    labels = [c.label for c in layout.children if ACCOUNT.match(c.label)]
    grouped = [c for c in layout.children if is_accounts_submenu(c.label)]
    return bool(grouped) or (bool(labels) and not any(re.fullmatch(r"\d{12}", lab) for lab in labels))


def state_colour(kind: str) -> tuple[int, int, int]:
    """The colour the icon of `kind` is drawn in: the commonest opaque colour of the app's own render."""
    from tray.ui.icons import render

    data = render(kind, 0.5, 64).tobytes()
    opaque = [tuple(data[i:i + 3]) for i in range(0, len(data), 4) if data[i + 3] == 255]
    return Counter(opaque).most_common(1)[0][0]


KINDS = ("signed_out", "valid", "expiring", "expired", "signing_in", "error")


def icon_crop(desktop: VirtualDesktop):
    screen = desktop.screenshot()
    x0, y0, x1, y1 = wait_for(desktop.tray_icons, 10, 0.1, "an icon docked in trayer")[0]
    return screen, screen.crop((x0, y0, x1, y1))


def icon_kind(crop) -> tuple[str | None, dict[str, int]]:
    """Which state's colour dominates the docked icon (None when none clearly does)."""
    counts = {k: colour_pixels(crop, state_colour(k), 40) for k in KINDS}
    best = max(counts, key=counts.get)
    others = max(v for k, v in counts.items() if k != best)
    return (best if counts[best] >= 15 and counts[best] >= 3 * others else None), counts


def wait_icon(desktop: VirtualDesktop, kind: str, timeout: float = 10.0):
    """Wait until the docked icon shows `kind`; the (screen, icon) images."""
    seen = {}

    def check():
        screen, crop = icon_crop(desktop)
        got, counts = icon_kind(crop)
        seen.update(counts=counts, got=got)
        return (screen, crop) if got == kind else None
    try:
        return wait_for(check, timeout, 0.2, f"the docked icon to show {kind}")
    except DesktopError as e:
        raise DesktopError(f"{e}; last seen {seen}") from None


def render_match(crop, badge: bool = False) -> list[tuple[float, str, int]]:
    """How far the docked icon is from the app's own drawing of each state at each ring step:
    (mean absolute difference per channel, kind, ring steps of 60), closest first. The drawing is
    `tray.ui.icons.render` scaled to the icon's window (GTK centres a square icon in it) over the panel's
    colour, so a match means the same shape, colour and ring, not just the same hue."""
    from PIL import Image, ImageChops, ImageStat
    from tray.ui.icons import STEPS, render

    w, h = crop.size
    background = crop.getpixel((0, 0))[:3]
    scores = []
    for kind in KINDS:
        steps = range(STEPS + 1) if kind in ("valid", "expiring") else (0,)
        for step in steps:
            for size in sorted({w, h}):
                expected = Image.new("RGBA", (w, h), background + (255,))
                expected.alpha_composite(render(kind, step / STEPS, 64, badge).resize((size, size), Image.Resampling.LANCZOS),
                                         ((w - size) // 2, (h - size) // 2))
                diff = ImageStat.Stat(ImageChops.difference(crop.convert("RGB"), expected.convert("RGB"))).mean
                scores.append((sum(diff) / 3, kind, step))
    return sorted(scores)


def assert_icon_is_render(crop, kind: str, steps: range | None = None, badge: bool = False) -> tuple[float, str, int]:
    scores = render_match(crop, badge)
    best = scores[0]
    other = next(s for s in scores if s[1] != kind)
    assert best[1] == kind and best[0] < 5 and other[0] > 3 * best[0], scores[:5]
    if steps is not None:
        assert best[2] in steps, (best, scores[:5])
    return best


def wait_badged_icon(desktop: VirtualDesktop, kind: str, steps: range | None = None, timeout: float = 10.0):
    """Wait until the docked icon is the app's drawing of `kind` with the error badge; the (screen, icon)."""
    def check():
        screen, crop = icon_crop(desktop)
        assert_icon_is_render(crop, kind, steps, badge=True)
        return screen, crop
    return wait_for(check, timeout, 0.2, f"the docked icon to show {kind} with the error badge")


def save_icon_shot(desktop: VirtualDesktop, screen, kind: str) -> Path:
    """The panel (with the icon) cut out of the screen, scaled up 4×."""
    path = save_scaled(screen.crop(desktop.panel_box()), SHOTS / f"icon-{kind.replace('_', '-')}.png", 4)
    return path


def save_menu_shot(desktop: VirtualDesktop, tray, name: str) -> Path:
    """Click the icon (as a person does), wait for the real GTK menu, save the screen's corner with the
    panel and the open menu, close the menu again."""
    desktop.move_mouse(500, 500)
    desktop.click_icon(1)
    box = wait_for(desktop.popup_windows, 10, 0.1, "the tray's menu to open")[0]
    time.sleep(0.5)  # let GTK finish drawing it
    screen = desktop.screenshot()
    x0, _y0, _x1, y1 = box
    path = SHOTS / f"menu-{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    screen.crop((max(0, x0 - 16), 0, screen.width, min(screen.height, y1 + 16))).save(path)
    desktop.press("Escape")
    wait_for(lambda: not desktop.popup_windows(), 5, 0.1, "the menu to close")
    return path


def no_traceback(tray) -> None:
    assert "Traceback" not in tray.stderr, tray.stderr


# --- the icon in each state ------------------------------------------------------------------------------


def _prepare(state: str, sim, home: Path) -> re.Pattern:
    """Make the token cache (and simulator) show `state`; the status line the menu should then show."""
    if state == "signed_out":
        return re.compile(r"^dev — signed out$")
    sign_in(sim)
    if state == "valid":
        return STATUS_LEFT
    if state == "expiring":
        set_token(home, 20 * 60, refreshable=False)
        return re.compile(r"^dev — (19|20)m left, until \d\d:\d\d$")
    if state == "expired":
        set_token(home, -3600, refreshable=False)
        return re.compile(r"^dev — expired at \d\d:\d\d$")
    if state == "error":
        # a valid session, its accounts already listed, whose portal can no longer be reached:
        # the test then clicks "Refresh accounts", which fails
        from tray.core.identity import accounts
        from tray.core.identity.config import AwsConfig
        from tray.core.identity.tokens import read_token

        session = AwsConfig.load().session("dev")
        accounts.discover(session, read_token(session))
        sim.stop()
        return STATUS_LEFT
    raise ValueError(state)


@pytest.mark.parametrize("state", ["signed_out", "valid", "expiring", "expired", "error"])
def test_icon_docks_and_shows_state(state, desktop, start_tray, sso_env, home):
    sim = sso_env
    expected_status = _prepare(state, sim, home)
    tray = start_tray()
    layout = tray.wait_menu(lambda m: expected_status.match(status(m)), 30, f"the status line for {state}")
    if state == "error":  # the session's own state, with the error badge
        tray.click("Refresh accounts")
        layout = tray.wait_menu(lambda m: problem_text(m).startswith("Can't reach AWS"), 30, "the error in the menu")
        screen, crop = wait_badged_icon(desktop, "valid", range(58, 61))
    else:
        screen, crop = wait_icon(desktop, state)
    # the icon sits inside trayer's panel, and its colour is the one the app draws for the state
    px0, py0, px1, py1 = desktop.panel_box()
    ix0, iy0, ix1, iy1 = desktop.tray_icons()[0]
    assert px0 <= ix0 < ix1 <= px1 and py0 <= iy0 < iy1 <= py1
    assert colour_pixels(crop, state_colour(state)) >= 15
    if state != "error":  # (the badge's colour is the error's, on the session's own icon)
        for other in ("valid", "expiring", "expired", "error"):
            if other != state:
                assert colour_pixels(crop, state_colour(other)) < 3, other
        # and it is the app's own drawing of the state, ring included: a fresh 8 h session shows (almost)
        # the whole ring, 20 minutes left of an 8 h session about 1/24 of it (2-3 steps of 60)
        ring = {"valid": range(58, 61), "expiring": range(2, 4)}.get(state)
        assert_icon_is_render(crop, state, ring)
    path = save_icon_shot(desktop, screen, state)
    assert path.stat().st_size > 0
    if state == "signed_out":  # the configured profiles' accounts, not listed yet: by their ids
        ids = [a.account_id for a in sim_accounts(sim)[:2]]
        assert [c.label for c in layout.children if ACCOUNT.match(c.label)] == ids, layout.dump()
    if state == "valid":
        tray.wait_menu(accounts_named, 20, "the discovered accounts")
    # the real GTK menu, opened with a click on the icon
    assert save_menu_shot(desktop, tray, state.replace("_", "-")).stat().st_size > 0
    assert tray.alive()
    no_traceback(tray)


# --- the menu over D-Bus ---------------------------------------------------------------------------------


def test_menu_matches_state_with_many_accounts_and_favourites(desktop, start_tray, sso_env, home):
    sso_env.options.accounts = 30
    sso_env.options.roles_per_account = 2
    sign_in(sso_env)
    accounts = sim_accounts(sso_env)
    write_settings(home, favourites=["dev-admin"], default_format="fish")
    tray = start_tray()
    layout = tray.wait_menu(lambda m: STATUS_LEFT.match(status(m)) and accounts_named(m) and "Refresh accounts" in m.labels(),
                            30, "a signed-in menu with the discovered accounts")
    labels = layout.labels()
    top = layout.children[0]
    assert not top.enabled
    # hours left that renew themselves: nothing to sign in again for
    assert labels[1] == "Sign out" and "Sign in" not in labels and "Sign in again" not in labels
    # "Find a role…" and the favourites right under the session's actions, with the account's discovered name
    first, role = accounts[0], accounts[0].roles[0]
    favourite = f"★ dev-admin — {first.name} / {role}"
    assert labels[2:5] == ["-", "Find a role…", favourite], layout.dump()
    menu = tray.menu()  # submenus are made when opened (AboutToShow), as a panel opens them
    assert menu.open(favourite).labels()[:3] == ["Copy export lines (fish)", "Copy as", "Open console"]
    assert "Remove from favourites" in menu.open(favourite).labels()
    # then the configured profiles by their own names
    assert labels[5:9] == ["-", "dev-admin", "dev-read", "-"], layout.dump()
    # 30 accounts: one "Accounts" submenu, no groups; every account once, in number-aware order
    assert not any(c.label.startswith("Accounts ") for c in layout.children), layout.dump()
    seen = menu.open("Accounts").labels()
    assert seen == [f"{a.name} ({a.account_id})" for a in sorted(accounts, key=lambda a: natural_key(a.name))]
    # account → each role's Copy, then roles → actions, with the check item for keeping a profile fresh
    some = accounts[7]
    label = f"{some.name} ({some.account_id})"
    roles = sorted(some.roles, key=natural_key)
    assert menu.open("Accounts", label).labels() == [f"Copy {r} (fish)" for r in roles] + ["-"] + roles
    actions = menu.open("Accounts", label, some.roles[0])
    assert actions.labels() == ["Copy export lines (fish)", "Copy as", "Open console", "Copy as auto-refreshing", "Write to credentials file",
                                "Keep fresh in credentials file", "Add to favourites"]
    assert actions.find("Keep fresh in credentials file").checked is False
    assert actions.find("Copy as").labels() == ["bash", "zsh", "sh", "powershell", "cmd", "dotenv", "json"]
    # the bottom of the menu, and Settings showing the chosen format
    assert labels[-5:] == ["Refresh accounts", "Revoke terminal tokens", "-", "Settings", "Quit"]
    formats = layout.find("Settings", "Default export format")
    assert [c.label for c in formats.children if c.checked] == ["fish"]
    assert formats.find("fish").toggle_type == "radio"
    # a setting changed from the menu is shown and persisted
    tray.click("Settings", "Default export format", "zsh")
    tray.wait_menu(lambda m: [c.label for c in m.find("Settings", "Default export format").children if c.checked] == ["zsh"],
                   10, "zsh checked")
    assert json.loads((home / ".config" / "sso-tray" / "settings.json").read_text(encoding="utf-8"))["default_format"] == "zsh"
    no_traceback(tray)


def test_copy_export_lines_puts_them_on_the_clipboard(desktop, start_tray, sso_env, home):
    sign_in(sso_env)
    tray = start_tray()
    layout = tray.wait_menu(lambda m: accounts_named(m), 30, "the discovered accounts")
    account = sim_accounts(sso_env)[1]  # its first role is the one [profile dev-read] points at
    path = (f"{account.name} ({account.account_id})", f"{account.roles[0]} — dev-read", "Copy export lines (bash)")
    assert tray.menu().open(*path[:2]).labels()[0] == path[2]
    tray.click(*path)
    text = wait_for(lambda: (lambda t: t if "AWS_ACCESS_KEY_ID" in t else None)(desktop.clipboard()), 15, 0.2,
                    "export lines on the clipboard")
    lines = dict(re.match(r"^export (\w+)=(.*)$", line).groups() for line in text.strip().splitlines())
    assert set(lines) >= {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CREDENTIAL_EXPIRATION"}
    # the same credentials the tray cached where the AWS CLI v2 keeps them
    cached = [json.loads(p.read_text(encoding="utf-8")) for p in (home / ".aws" / "cli" / "cache").glob("*.json")]
    assert [c["Credentials"]["AccessKeyId"] for c in cached] == [lines["AWS_ACCESS_KEY_ID"]]
    assert cached[0]["Credentials"]["SecretAccessKey"] == lines["AWS_SECRET_ACCESS_KEY"]
    # the menu says what happened (never the secret) and the profile is now among the recent ones
    layout = tray.wait_menu(lambda m: any(c.label.startswith("Copied bash export lines") for c in m.children), 10, "the message")
    for node in (c for _d, c in layout.walk()):
        assert lines["AWS_SECRET_ACCESS_KEY"] not in node.label and lines["AWS_SESSION_TOKEN"] not in node.label
    assert any(c.label.endswith(f"— {account.name} / {account.roles[0]}") for c in layout.children), layout.dump()
    # and said at the moment: a quiet notification naming the account and role, never the secret
    toast = wait_for(lambda: [e for e in received(desktop) if e["summary"] == "sso-tray"], 10, 0.2, "the toast")
    assert len(toast) == 1 and toast[0]["urgency"] == "LOW", toast
    assert toast[0]["body"] == f"Copied {account.name} / {account.roles[0]} (bash) — clipboard clears in 90 s"
    assert lines["AWS_SECRET_ACCESS_KEY"] not in json.dumps(toast)
    no_traceback(tray)


@pytest.mark.browser
def test_sign_in_from_the_menu_in_chromium(desktop, start_tray, sso_env, home, monkeypatch, tmp_path):
    need_program("chromium")
    sso_env.options.auto_approve = False  # a person clicks Allow on the simulator's page
    monkeypatch.setenv("BROWSER", f"{sys.executable} {BROWSERS / 'chromium.py'} %s")
    monkeypatch.setenv("SSO_TRAY_TEST_CLICK", "allow")
    monkeypatch.setenv("SSO_TRAY_TEST_PAGE_TEXT", str(tmp_path / "page.txt"))
    tray = start_tray()
    layout = tray.wait_menu(lambda m: status(m) == "dev — signed out", 15, "signed out")
    assert "Sign out" not in layout.labels() and "Refresh accounts" not in layout.labels()
    tray.click("Sign in")
    tray.wait_menu(lambda m: STATUS_LEFT.match(status(m)), 60, "signed in")
    body = json.loads(token_path(home).read_text(encoding="utf-8"))
    assert body["accessToken"] and body["refreshToken"]
    page = tmp_path / "page.txt"  # the browser writes it after the tray has already got the code
    wait_for(lambda: page.exists() and "You may close this tab" in page.read_text(encoding="utf-8"), 30, 0.1, "the browser's final page")
    layout = tray.wait_menu(lambda m: accounts_named(m) and "Refresh accounts" in m.labels(), 20, "accounts after sign-in")
    assert layout.labels()[1] == "Sign out" and "Sign in again" not in layout.labels()
    assert [r["code_challenge_method"] for r in sso_env.authorize_requests()] == ["S256"]
    wait_icon(desktop, "valid")
    # and out again: Logout called, the token gone, the menu and icon signed out
    tray.click("Sign out")
    layout = tray.wait_menu(lambda m: status(m) == "dev — signed out", 15, "signed out again")
    assert "Sign in" in layout.labels() and not token_path(home).exists()
    assert sso_env.calls().get("Logout") == 1
    wait_icon(desktop, "signed_out")
    no_traceback(tray)


# --- expiry warnings -------------------------------------------------------------------------------------


def test_expiry_notification_and_its_action_signs_in(desktop, start_tray, sso_env, home):
    old = sign_in(sso_env)
    set_token(home, 100, refreshable=False)  # expires in under 2 minutes and cannot be renewed
    desktop.clear_notifications()
    tray = start_tray()
    tray.wait_menu(lambda m: re.match(r"^dev — (1m|\d\ds) left, until \d\d:\d\d$", status(m)), 15, "the expiring status")
    wait_icon(desktop, "expiring")
    shown = wait_for(lambda: [n for n in desktop.notifications() if "expires in" in (n["summary"] or "")], 15, 0.2,
                     "the expiry notification")
    assert len(shown) == 1, desktop.notifications()
    note = shown[0]
    assert note["appname"] == "sso-tray" and note["summary"].startswith("AWS session dev expires in")
    assert "Sign in again" in note["body"]
    assert old["accessToken"] not in json.dumps(desktop.notifications())
    assert desktop.notifications_shown() >= 1
    # the notification's action ("Sign in again") starts the sign-in: a new token in the cache
    desktop.invoke_action(0)
    fresh = wait_for(lambda: (lambda b: b if b["accessToken"] != old["accessToken"] else None)(json.loads(token_path(home).read_text(encoding="utf-8"))),
                     30, 0.2, "a new token after the notification's action")
    assert datetime.strptime(fresh["expiresAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc) > datetime.now(timezone.utc) + timedelta(hours=7)
    tray.wait_menu(lambda m: re.match(r"^dev — 7h \d+m left", status(m)), 15, "the renewed session")
    wait_icon(desktop, "valid")
    # the clicked notification is closed, so dunst now lists it in its history; and there is still
    # exactly one warning: the new session does not warn
    wait_for(lambda: [n for n in desktop.notifications() if n["closed"] and "expires in" in n["summary"]], 5, 0.2,
             "the notification in `dunstctl history`")
    assert desktop.notifications_shown() == 0
    assert len([n for n in desktop.notifications() if "expires in" in (n["summary"] or "")]) == 1
    no_traceback(tray)


def test_a_notification_body_from_a_server_reads_as_written_never_as_markup(desktop):
    """A body carries a server's error text; dunst (markup = full, as Debian ships it), GNOME and KDE render a
    body as markup, so a server could show a link or hide words in the person's notification (issue 17)."""
    desktop.clear_notifications()
    title = "sso-tray: dev-admin not refreshed"
    body = 'AccessDenied: <b>urgent</b> <a href="https://evil.example/">open this</a> &amp; <i>more</i> & Co'
    code = ("import sys; from tray.ui.notify import DBusNotifier; n = DBusNotifier(); "
            "assert n.available, n.reason; n.notify(sys.argv[1], sys.argv[2], {}, lambda key: None)")
    sent = subprocess.run([sys.executable, "-c", code, title, body], env=desktop.env, capture_output=True, text=True, timeout=30)
    assert sent.returncode == 0, sent.stderr
    [note] = wait_for(lambda: [n for n in desktop.notifications() if n["summary"] == title], 10, 0.1, "the notification")
    [caps] = desktop.bus.call("org.freedesktop.Notifications", "/org/freedesktop/Notifications", "org.freedesktop.Notifications",
                              "GetCapabilities", reply="(as)")
    assert "body-markup" in caps  # dunst started on demand, and renders the body as markup
    assert desktop.shown_text(note["id"]) == f"{title}\n{body}"


# --- faults ----------------------------------------------------------------------------------------------


def test_portal_outage_shows_error_and_recovers_by_itself(desktop, start_tray, sso_env, home):
    sign_in(sso_env)
    tray = start_tray()
    tray.wait_menu(lambda m: accounts_named(m) and "Refresh accounts" in m.labels(), 30, "the discovered accounts")
    wait_icon(desktop, "valid")
    sso_env.stop()  # Identity Center unreachable (connection refused)
    tray.click("Refresh accounts")
    layout = tray.wait_menu(lambda m: problem_text(m).startswith("Can't reach AWS"), 60, "the error in the menu")
    assert re.fullmatch(r"Can't reach AWS — retrying (in \d+ s|now)", problem_text(layout)), layout.dump()
    assert "Retry now" in layout.labels() and "Sign in again" in layout.labels()
    assert "http" not in json.dumps([n.label for _d, n in layout.walk()])  # the URL is in the log only
    assert STATUS_LEFT.match(status(layout))  # the session's time left stays
    assert has_accounts(layout)  # what was known is still there
    wait_badged_icon(desktop, "valid", range(58, 61))
    assert tray.alive()
    # Identity Center is back: the tray recovers on its own (retry with backoff from 5 s), no click
    sso_env.start()
    started = time.monotonic()
    layout = tray.wait_menu(lambda m: STATUS_LEFT.match(status(m)) and not problem_text(m), 25, "recovery without a click")
    wait_icon(desktop, "valid")
    assert time.monotonic() - started < 25
    assert layout.labels()[1] == "Sign out" and "Retry now" not in layout.labels()
    no_traceback(tray)


def test_offline_at_start_retries_with_backoff_and_recovers(desktop, start_tray, sso_env, home):
    from desktop import cpu_seconds

    sign_in(sso_env)
    sso_env.stop()  # no account cache yet, and Identity Center cannot be reached
    tray = start_tray()
    tray.wait_menu(lambda m: problem_text(m).startswith("Can't reach AWS"), 30, "the error in the menu")
    wait_badged_icon(desktop, "valid", range(58, 61))
    before = cpu_seconds(tray.pid)
    time.sleep(5)
    used = cpu_seconds(tray.pid) - before
    assert used < 1.0, f"{used:.1f} s of CPU in 5 s while offline: retrying without backoff"
    assert "Traceback" not in tray.stderr, tray.stderr[-3000:]
    sso_env.start()
    tray.wait_menu(lambda m: STATUS_LEFT.match(status(m)) and not problem_text(m) and accounts_named(m), 25, "recovery")


def test_corrupt_token_cache_counts_as_signed_out(desktop, start_tray, sso_env, home):
    path = token_path(home)
    path.parent.mkdir(parents=True)
    path.write_text('{"startUrl": "https://example.awsapps.com/start", "accessToken": ', encoding="utf-8")
    tray = start_tray()
    layout = tray.wait_menu(lambda m: status(m).startswith("dev — signed out"), 15, "signed out")
    problem = problem_text(layout)
    assert "the cached token is corrupt" in problem and path.name in problem.replace(" ", ""), layout.dump()
    assert "sign in again" in problem
    assert "Sign in" in layout.labels() and "Sign out" not in layout.labels()
    wait_icon(desktop, "signed_out")
    assert tray.alive()
    no_traceback(tray)


def test_quit_from_the_menu_and_sigterm_end_cleanly(desktop, start_tray, sso_env, home, monkeypatch, tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))  # where pystray writes its icon file
    tray = start_tray()
    tray.wait_menu(lambda m: status(m) == "dev — signed out", 15, "the menu")
    assert list(tmp.iterdir())
    tray.click("Quit")
    assert tray.proc.wait(15) == 0
    other = start_tray(name="terminated")
    other.wait_menu(lambda m: status(m) == "dev — signed out", 15, "the menu")
    assert other.stop() == 0  # SIGTERM, as a session ends: the same clean exit
    for t in (tray, other):
        assert "Traceback" not in t.stderr and "internal error" not in t.stderr, t.stderr
    assert list(tmp.iterdir()) == []  # no temporary icon file left behind
    wait_for(lambda: not desktop.tray_icons(), 5, 0.1, "the icon to leave the panel")


def test_second_instance_says_already_running_and_exits_0(desktop, start_tray, sso_env, home):
    first = start_tray()
    first.menu()
    second = start_tray(name="second")
    assert second.proc.wait(15) == 0
    assert "already running" in second.stderr
    assert second.stdout == "" and "Traceback" not in second.stderr
    assert first.alive()
    assert len(desktop.tray_icons()) == 1  # one icon in the panel
    assert status(first.layout()) == "dev — signed out"


def received(desktop) -> list[dict]:
    """Every Notify the daemon ran its rule for, in order, replacements included (dunst's log script)."""
    forgotten = desktop._forgotten
    lines = desktop.notification_log.read_text(encoding="utf-8").splitlines() if desktop.notification_log.exists() else []
    return [e for e in map(json.loads, lines) if e.get("id") not in forgotten and e.get("app_name") == "sso-tray"]


def test_one_notification_per_session_replaced_louder_then_expired_then_closed(desktop, start_tray, sso_env, home):
    sign_in(sso_env)
    write_settings(home, warn_minutes=[2, 1])
    set_token(home, 70, refreshable=False)  # inside the 2-minute threshold, the 1-minute one 10 s later
    desktop.clear_notifications()
    tray = start_tray()
    wait_for(lambda: len(received(desktop)) >= 2, 40, 0.2, "the second warning")
    expired = wait_for(lambda: [e for e in received(desktop) if "has expired" in e["summary"]], 90, 0.2, "the expired notice")
    sent = received(desktop)
    # one notification, replaced in place: the same id every time, louder each time, "expired" last and once
    assert len({e["id"] for e in sent}) == 1, sent
    assert [e["urgency"] for e in sent] == ["NORMAL", "CRITICAL", "CRITICAL"], sent
    assert [e["summary"].split(" expires in ")[0] for e in sent[:2]] == ["AWS session dev"] * 2, sent
    assert len(expired) == 1 and expired[0] == sent[-1]
    assert "Sign in" in expired[0]["body"] or "sign in" in expired[0]["body"]
    assert desktop.notifications_shown() == 1  # one on screen, not a pile
    # signed in again from the menu (not the notification): the notice is no longer true and goes away
    tray.click("Sign in again")
    tray.wait_menu(lambda m: re.match(r"^dev — 7h \d+m left", status(m)), 30, "the new session")
    wait_for(lambda: desktop.notifications_shown() == 0, 10, 0.2, "the notice closed")
    assert [n["closed"] for n in desktop.notifications()] == [True]
    assert len(received(desktop)) == 3
    no_traceback(tray)


def indicator_label(desktop, tray) -> str:
    """The label AppIndicator publishes beside the icon (the StatusNotifierItem's XAyatanaLabel)."""
    from desktop import INDICATOR_ROOT

    menu = tray.menu()
    item = menu.path.rsplit("/Menu", 1)[0]
    assert item.startswith(INDICATOR_ROOT)
    return desktop.bus.call(menu.name, item, "org.freedesktop.DBus.Properties", "Get",
                            ("org.kde.StatusNotifierItem", "XAyatanaLabel"), "ss", "(v)")[0]


def test_the_time_left_is_the_indicator_s_label_inside_the_first_warning(desktop, start_tray, sso_env, home):
    sign_in(sso_env)
    set_token(home, 25 * 60, refreshable=False)  # inside the first warning (30 minutes)
    tray = start_tray()
    tray.wait_menu(lambda m: re.match(r"^dev — 2[45]m left", status(m)), 15, "the expiring status")
    wait_for(lambda: re.fullmatch(r"2[45]m", indicator_label(desktop, tray)), 10, 0.1, "the label")
    set_token(home, 5 * 3600, refreshable=False)  # signed in again elsewhere: hours left, no label
    tray.wait_menu(lambda m: re.match(r"^dev — [45]h \d+m left", status(m)), 15, "the new expiry")
    wait_for(lambda: indicator_label(desktop, tray) == "", 10, 0.1, "no label")
    no_traceback(tray)


def test_no_notification_daemon_the_icon_and_menu_carry_the_warning(tmp_path, start_tray, sso_env, home):
    sign_in(sso_env)
    set_token(home, 20 * 60, refreshable=False)
    with VirtualDesktop(tmp_path / "desktop", notifications=False) as quiet:
        tray = start_tray(on=quiet)
        layout = tray.wait_menu(lambda m: re.match(r"^dev — (19|20)m left, until", status(m)), 15, "the expiring status")
        assert "Sign in again" in layout.labels()
        wait_icon(quiet, "expiring")
        time.sleep(1)  # the warning is due at once: it must not break anything
        assert tray.alive()
        assert not quiet.bus.has_owner("org.freedesktop.Notifications")
        assert not (tmp_path / "desktop" / "notifications.jsonl").exists()
        tray.layout()
        no_traceback(tray)
        assert tray.stop() == 0


def test_no_session_bus_gtk_backend_still_docks(tmp_path, start_tray, sso_env, home, monkeypatch):
    sign_in(sso_env)
    set_token(home, 20 * 60, refreshable=False)  # expiring: the icon carries the warning
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    with VirtualDesktop(tmp_path / "desktop", bus=False) as bare:
        assert "DBUS_SESSION_BUS_ADDRESS" not in bare.env
        tray = start_tray(on=bare)
        screen, crop = wait_icon(bare, "expiring", 20)
        assert_icon_is_render(crop, "expiring", range(2, 4))
        assert tray.alive()
        path = save_scaled(screen.crop(bare.panel_box()), SHOTS / "icon-expiring-no-bus.png", 4)
        assert path.exists()
        # the GTK backend: a right click opens the menu …
        bare.click_icon(3)
        wait_for(bare.popup_windows, 10, 0.1, "the menu (GTK backend)")
        time.sleep(0.3)
        bare.screenshot(tmp_path / "menu-no-bus.png")
        bare.press("Escape")
        wait_for(lambda: not bare.popup_windows(), 5, 0.1, "the menu to close")
        # … and a left click runs the default item, here "Sign in again": a new token
        old = json.loads(token_path(home).read_text(encoding="utf-8"))["accessToken"]
        bare.click_icon(1)
        wait_for(lambda: json.loads(token_path(home).read_text(encoding="utf-8"))["accessToken"] != old, 30, 0.2, "a sign-in from a left click")
        wait_icon(bare, "valid", 15)
        assert tray.stop() == 0  # SIGTERM: a clean exit
        no_traceback(tray)
        assert list(tmp.iterdir()) == []  # no temporary icon file left behind


def test_start_at_login_check_item(desktop, start_tray, sso_env, home):
    """Settings → Start at login shows what `sso-tray autostart` set, and clicking it turns it off and on."""
    entry = home / ".config" / "autostart" / "sso-tray.desktop"
    assert run_cli("autostart", "on").returncode == 0 and entry.exists()
    tray = start_tray()
    tray.wait_menu(lambda m: m.find("Settings", "Start at login").checked is True, 15, "Start at login checked")
    # (GTK ticks a check item itself when clicked: what counts is the entry, then the menu drawn from it)
    tray.click("Settings", "Start at login")
    wait_for(lambda: not entry.exists(), 10, 0.05, "the autostart entry to go")
    tray.wait_menu(lambda m: m.find("Settings", "Start at login").checked is False, 10, "Start at login unchecked")
    tray.click("Settings", "Start at login")
    wait_for(entry.exists, 10, 0.05, "the autostart entry to come back")
    tray.wait_menu(lambda m: m.find("Settings", "Start at login").checked is True, 10, "Start at login checked again")
    assert "Exec=" in entry.read_text(encoding="utf-8")
    no_traceback(tray)

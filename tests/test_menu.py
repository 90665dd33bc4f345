"""The menu as a pure function of the state: every state's items, big directories, and speed."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from tray.core.state import (
    ERROR, EXPIRED, EXPIRING, SIGNED_OUT, SIGNING_IN, VALID, AccountView, RoleView, SessionView, State,
)
from tray.ui import menu
from tray.ui.menu import SEPARATOR, build, flatten, role_actions, tooltip

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


class Recorder:
    """Stands in for the engine: records which action a clicked item asked for."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda *args, **kwargs: self.calls.append((name, args, kwargs))


def accounts(n: int, roles=("Admin", "ReadOnly"), session="dev") -> tuple[AccountView, ...]:
    out = []
    for i in range(n):
        aid = f"{111100000000 + i}"
        out.append(AccountView(aid, f"acct-{i:04d}", tuple(RoleView(f"{aid}/{r}", aid, f"acct-{i:04d}", r, session) for r in roles)))
    return tuple(out)


def session(state=VALID, left=timedelta(hours=5, minutes=12), name="dev", accts=(), problem=None) -> SessionView:
    expires = NOW + left if state not in (SIGNED_OUT,) else None
    return SessionView(name, state, expires, timedelta(hours=8), problem, accts)


def texts(items):
    return [i.text for i in items if i is not SEPARATOR]


def local(t):
    return t.astimezone().strftime("%H:%M")


def test_signed_out():
    items = build(State(NOW, (session(SIGNED_OUT),)), Recorder())
    assert texts(items) == ["dev — signed out", "Sign in", "Settings", "Quit"]
    status, sign_in = items[0], items[1]
    assert not status.enabled and sign_in.default


def test_valid_session_full_structure():
    s = session(VALID, accts=accounts(3))
    items = build(State(NOW, (s,)), Recorder())
    until = local(NOW + timedelta(hours=5, minutes=12))
    assert texts(items) == [
        f"dev — 5h 12m left, until {until}", "Sign in again", "Sign out",
        "acct-0000 (111100000000)", "acct-0001 (111100000001)", "acct-0002 (111100000002)",
        "Refresh accounts", "Settings", "Quit",
    ]
    role = menu.Item("root", submenu=items).find("acct-0000 (111100000000)", "Admin")
    assert texts(role.children()) == ["Copy export lines (bash)", "Copy as", "Write to credentials file",
                                      "Keep fresh in credentials file", "Add to favourites"]
    assert texts(role.find("Copy as").children()) == ["zsh", "sh", "fish", "powershell", "cmd", "dotenv", "json"]
    assert role.find("Keep fresh in credentials file").checked is False


def test_actions_call_the_engine_with_the_profile():
    rec = Recorder()
    s = session(VALID, accts=accounts(1))
    root = menu.Item("root", submenu=build(State(NOW, (s,)), rec))
    root.find("acct-0000 (111100000000)", "Admin", "Copy export lines (bash)").action()
    root.find("acct-0000 (111100000000)", "Admin", "Copy as", "fish").action()
    root.find("acct-0000 (111100000000)", "ReadOnly", "Write to credentials file").action()
    root.find("acct-0000 (111100000000)", "ReadOnly", "Keep fresh in credentials file").action()
    root.find("Sign out").action()
    root.find("Refresh accounts").action()
    root.find("Settings", "Default export format", "fish").action()
    root.find("Settings", "Clear clipboard", "Never").action()
    root.find("Quit").action()
    assert rec.calls == [
        ("copy_export", ("111100000000/Admin", None), {}),
        ("copy_export", ("111100000000/Admin", "fish"), {}),
        ("write_credentials", ("111100000000/ReadOnly",), {}),
        ("toggle_pinned", ("111100000000/ReadOnly",), {}),
        ("sign_out", ("dev",), {}),
        ("refresh_accounts", ("dev",), {}),
        ("update_settings", (), {"default_format": "fish"}),
        ("update_settings", (), {"clear_clipboard_after": 0}),
        ("quit", (), {}),
    ]


def test_expiring_expired_signing_in_and_error():
    expiring = build(State(NOW, (session(EXPIRING, timedelta(minutes=9)),)), Recorder())
    assert expiring[0].text.startswith("dev — 9m left, until ")
    assert expiring[1].text == "Sign in again" and expiring[1].default
    expired = build(State(NOW, (session(EXPIRED, -timedelta(minutes=3)),)), Recorder())
    assert texts(expired)[:2] == [f"dev — expired at {local(NOW - timedelta(minutes=3))}", "Sign in again"]
    assert "Sign out" not in texts(expired)
    signing = build(State(NOW, (session(SIGNING_IN),)), Recorder())
    assert texts(signing)[:2] == ["dev — signing in…", "Cancel sign-in"]
    error = build(State(NOW, (session(ERROR, problem="listing the accounts of dev: cannot reach http://x (network error)"),)), Recorder())
    assert error[0].text.endswith("(problem)")
    assert error[1].text.strip().startswith("listing the accounts of dev: cannot reach") and not error[1].enabled


def test_config_problem_is_shown_first():
    items = build(State(NOW, problem="/home/x/.aws/config: missing key sso_region"), Recorder())
    assert items[0].text == "⚠ /home/x/.aws/config: missing key sso_region" and not items[0].enabled
    assert tooltip(State(NOW, problem="bad")) == "sso-tray — bad"


def test_two_sessions_name_their_actions():
    state = State(NOW, (session(VALID, accts=accounts(2)), session(SIGNED_OUT, name="prod")))
    t = texts(build(state, Recorder()))
    assert t[:5] == [f"dev — 5h 12m left, until {local(NOW + timedelta(hours=5, minutes=12))}", "prod — signed out",
                     "Sign in again (dev)", "Sign out (dev)", "Sign in (prod)"]
    assert "dev accounts" in t and "Refresh accounts (dev)" in t


def test_favourites_and_recent_on_top():
    accts = accounts(3)
    fav, rec = accts[1].roles[0], accts[2].roles[1]
    state = State(NOW, (session(VALID, accts=accts),), favourites=(fav,), recent=(rec,), favourite_names=frozenset({fav.profile}))
    t = texts(build(state, Recorder()))
    assert t[3:5] == ["★ 111100000001/Admin — acct-0001 / Admin", "111100000002/ReadOnly — acct-0002 / ReadOnly"]
    assert "Remove from favourites" in texts(role_actions(fav, state, Recorder()))


def test_settings_reflect_the_state():
    state = State(NOW, (session(VALID),), default_format="fish", warn_minutes=(15, 5), clear_clipboard_after=300)
    items = build(state, Recorder())
    settings = next(i for i in items if i.text == "Settings")
    checked = {i.text for _, i in flatten([settings]) if i.checked}
    assert checked == {"fish", "15 and 5 minutes before", "After 5 min"}
    role = RoleView("p", "111100000000", "a", "Admin", "dev")
    assert texts(role_actions(role, state, Recorder()))[0] == "Copy export lines (fish)"


@pytest.mark.parametrize("n_accounts", [2000])
def test_2000_roles_split_into_submenus_built_fast(n_accounts):
    state = State(NOW, (session(VALID, accts=accounts(n_accounts, roles=("Admin",))),))
    rec = Recorder()
    build(state, rec)  # warm
    started = time.perf_counter()
    items = build(state, rec)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.05, f"menu build took {elapsed * 1000:.1f} ms"
    groups = [i for i in items if i.text.startswith("Accounts ")]
    assert len(groups) == 100 and len(items) < 120
    assert groups[0].text == "Accounts acct-0000 … acct-0019"
    assert all(len(g.children()) == 20 for g in groups)
    roles = [i for depth, i in flatten(groups) if depth == 2]
    assert len(roles) == 2000


def test_tooltip_has_session_and_time_left_only():
    state = State(NOW, (session(VALID),))
    assert tooltip(state) == f"sso-tray — dev — 5h 12m left, until {local(NOW + timedelta(hours=5, minutes=12))}"
    assert tooltip(State(NOW)) == "sso-tray — no SSO session configured"


def test_signature_tells_relabelling_from_rebuilding():
    state = State(NOW, (session(VALID, accts=accounts(2)),))
    structure, labels = menu.signature(state, build(state, Recorder()))
    moment = State(NOW - timedelta(seconds=20), state.sessions)
    assert menu.signature(moment, build(moment, Recorder())) == (structure, labels)  # the same minute shows
    later = State(NOW + timedelta(seconds=20), state.sessions)
    later_structure, later_labels = menu.signature(later, build(later, Recorder()))
    assert later_structure == structure and later_labels != labels  # a minute on: relabel only
    pinned = State(NOW, state.sessions, pinned=frozenset({"111100000000/Admin"}))
    assert menu.signature(pinned, build(pinned, Recorder()))[0] != structure
    for change in ({"autostart": True}, {"clear_clipboard_after": 0}, {"warn_minutes": (10,)}, {"notifications": False}):
        changed = State(NOW, state.sessions, **change)  # shown only in the Settings submenu
        assert menu.signature(changed, build(changed, Recorder()))[0] != structure, change
    signed_out = State(NOW, (session(SIGNED_OUT, accts=accounts(2)),))
    assert menu.signature(signed_out, build(signed_out, Recorder()))[0] != structure  # Sign out disappears

"""The menu as a pure function of the state: every state's items, big directories, and speed."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from tray.core.engine.state import (
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


def accounts(n: int, roles=("Admin", "ReadOnly"), session="dev", names=None, profiles=None) -> tuple[AccountView, ...]:
    """n accounts (named acct-0000… unless `names`); `profiles` maps (account index, role) to a configured profile's name."""
    out = []
    for i in range(n):
        aid, name = f"{111100000000 + i}", names[i] if names else f"acct-{i:04d}"
        out.append(AccountView(aid, name, tuple(RoleView((profiles or {}).get((i, r), f"{aid}/{r}"), aid, name, r, session) for r in roles)))
    return tuple(out)


def session(state=VALID, left=timedelta(hours=5, minutes=12), name="dev", accts=(), problem=None) -> SessionView:
    expires = NOW + left if state not in (SIGNED_OUT,) else None
    return SessionView(name, state, expires_at=expires, lifetime=timedelta(hours=8), problem=problem, accounts=accts)


def texts(items):
    return [i.text for i in items if i is not SEPARATOR]


def local(t):
    return t.astimezone().strftime("%H:%M")


def test_signed_out():
    items = build(State(NOW, (session(SIGNED_OUT),)), Recorder())
    assert texts(items) == ["dev — signed out", "Sign in", "Find a role…", "Settings", "Quit"]
    status, sign_in = items[0], items[1]
    assert not status.enabled and sign_in.default


def test_valid_session_full_structure():
    s = session(VALID, accts=accounts(3))
    items = build(State(NOW, (s,)), Recorder())
    until = local(NOW + timedelta(hours=5, minutes=12))
    assert texts(items) == [
        f"dev — 5h 12m left, until {until}", "Sign out", "Find a role…",
        "acct-0000 (111100000000)", "acct-0001 (111100000001)", "acct-0002 (111100000002)",
        "Refresh accounts", "Revoke terminal tokens", "Settings", "Quit",
    ]
    role = menu.Item("root", submenu=items).find("acct-0000 (111100000000)", "Admin")
    assert texts(role.children()) == ["Copy export lines (bash)", "Copy as", "Open console", "Copy as auto-refreshing", "Write to credentials file",
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
    root.find("acct-0000 (111100000000)", "ReadOnly", "Open console").action()
    root.find("Find a role…").action()
    root.find("Sign out").action()
    root.find("Refresh accounts").action()
    root.find("acct-0000 (111100000000)", "Admin", "Copy as auto-refreshing").action()
    root.find("Revoke terminal tokens").action()
    root.find("Settings", "Default export format", "fish").action()
    root.find("Settings", "Clear clipboard", "Never").action()
    root.find("Quit").action()
    assert rec.calls == [
        ("copy_export", ("111100000000/Admin", None), {}),
        ("copy_export", ("111100000000/Admin", "fish"), {}),
        ("write_credentials", ("111100000000/ReadOnly",), {}),
        ("toggle_pinned", ("111100000000/ReadOnly",), {}),
        ("open_console", ("111100000000/ReadOnly",), {}),
        ("open_finder", (), {}),
        ("sign_out", ("dev",), {}),
        ("refresh_accounts", ("dev",), {}),
        ("copy_refreshing", ("111100000000/Admin",), {}),
        ("revoke_terminal_tokens", (), {}),
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


def test_a_failing_session_keeps_its_urgency_says_when_it_retries_and_hides_the_url():
    import dataclasses

    raw = "listing the accounts of dev: cannot reach http://127.0.0.1:9/assignment/accounts?max_result=100 (network error)"
    failing = dataclasses.replace(session(EXPIRING, timedelta(minutes=2), problem=raw), failing=True,
                                  retry_at=NOW + timedelta(seconds=30))
    rec = Recorder()
    items = build(State(NOW, (failing,)), rec)
    assert texts(items)[:4] == [f"dev — 2m left, until {local(NOW + timedelta(minutes=2))}",
                                "    Can't reach AWS — retrying in 30 s", "Retry now", "Sign in again"]
    assert not items[1].enabled and items[3].default  # signing in again is still the thing to do
    assert not [t for t in texts(flatten_texts(items)) if "http" in t]
    items[2].action()
    assert rec.calls == [("retry_now", ("dev",), {})]


def test_sign_in_again_only_when_it_is_needed():
    assert "Sign in again" not in texts(build(State(NOW, (session(VALID),)), Recorder()))
    for state, left in ((EXPIRING, timedelta(minutes=9)), (EXPIRED, -timedelta(minutes=1))):
        assert "Sign in again" in texts(build(State(NOW, (session(state, left),)), Recorder())), state


def flatten_texts(items):
    from tray.ui.menu import flatten

    return [item for _depth, item in flatten(items)]


def test_config_problem_is_shown_first():
    items = build(State(NOW, problem="/home/x/.aws/config: missing key sso_region"), Recorder())
    assert items[0].text == "⚠ /home/x/.aws/config: missing key sso_region" and not items[0].enabled
    assert tooltip(State(NOW, problem="bad")) == "sso-tray — bad"


def test_two_sessions_name_their_actions():
    state = State(NOW, (session(VALID, accts=accounts(2)), session(SIGNED_OUT, name="prod")))
    t = texts(build(state, Recorder()))
    assert t[:4] == [f"dev — 5h 12m left, until {local(NOW + timedelta(hours=5, minutes=12))}", "prod — signed out",
                     "Sign out (dev)", "Sign in (prod)"]
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


def test_no_session_offers_setup():
    rec = Recorder()
    items = build(State(NOW), rec)
    assert texts(items) == ["No SSO session configured", "Set up AWS SSO…", "Settings", "Quit"]
    setup = items[1]
    assert setup.default and setup.enabled
    setup.action()
    assert rec.calls == [("open_setup", (), {})]
    problem = build(State(NOW, problem="/home/x/.aws/config: bad"), Recorder())
    assert "Set up AWS SSO…" in texts(problem) and "No SSO session configured" not in texts(problem)


def test_configured_profiles_by_their_names_and_beside_their_roles():
    profiles = {(2, "Admin"): "web-admin", (0, "ReadOnly"): "billing-read", (1, "Admin"): "Analytics"}
    accts = accounts(3, profiles=profiles)
    rec = Recorder()
    state = State(NOW, (session(VALID, accts=accts),), favourites=(accts[2].roles[0],), favourite_names=frozenset({"web-admin"}))
    items = build(state, rec)
    t = texts(items)
    # after "Find a role…" and the favourites, the profiles by name (case-insensitive order), then the accounts
    assert t[2:8] == ["Find a role…", "★ web-admin — acct-0002 / Admin", "Analytics", "billing-read", "web-admin",
                      "acct-0000 (111100000000)"]
    root = menu.Item("root", submenu=items)
    assert texts(root.find("acct-0000 (111100000000)").children()) == ["Copy Admin (bash)", "Copy ReadOnly (bash)", "Admin", "ReadOnly — billing-read"]
    assert texts(root.find("acct-0002 (111100000002)").children())[2:] == ["Admin — web-admin", "ReadOnly"]
    root.find("billing-read", "Copy export lines (bash)").action()
    root.find("acct-0002 (111100000002)", "Admin — web-admin", "Open console").action()
    assert "Remove from favourites" in texts(root.find("web-admin").children())
    assert rec.calls == [("copy_export", ("billing-read", None), {}), ("open_console", ("web-admin",), {})]


def test_many_profiles_are_grouped_by_name():
    names = [f"team-{chr(ord('a') + i // 2)}{i % 2}" for i in range(40)]
    accts = accounts(40, roles=("Admin",), profiles={(i, "Admin"): names[i] for i in range(40)})
    items = build(State(NOW, (session(VALID, accts=accts),)), Recorder())
    groups = [i for i in items if i.text.startswith("Profiles ")]
    assert 2 <= len(groups) <= menu.TOP_GROUPS
    inside = [c.text for g in groups for c in g.children()]
    assert inside == sorted(names)
    assert [g.text for g in groups] == ["Profiles team-a0 … team-c1", "Profiles team-d0 … team-e1", "Profiles team-f0 … team-h1",
                                        "Profiles team-i0 … team-k1", "Profiles team-l0 … team-n1", "Profiles team-o0 … team-q1",
                                        "Profiles team-r0 … team-t1"]


def test_range_labels_are_the_whole_names_at_either_end():
    names = ["prod-api", "prod-auth", "prod-billing", "prod-kafka", "prod-logs", "prod-pay", "prod-zeta"]
    assert menu.range_label(names, 0, 4) == "prod-api … prod-kafka"
    assert menu.range_label(names, 4, 7) == "prod-logs … prod-zeta"
    assert menu.range_label(names, 2, 3) == "prod-billing"  # one name: itself
    long = [f"{team}-platform-engineering-shared-services-{i}" for i, team in enumerate(("alpha", "omega"))]
    label = menu.range_label(long, 0, 2, room=40)
    assert len(label) <= 40 and label == "alpha-pl…ervices-0 … omega-pl…ervices-1"


def test_names_are_in_number_aware_order_and_groups_hold_what_their_labels_say():
    """The issue's menu: network-17 came before network-7, and "Accounts prod-45 … prod-53" held prod-451 …
    prod-531 and prod-51. Now each group holds the run of names from its label's first name to its last, in
    number-aware order."""
    from tray.core.naming import natural_key

    names = sorted((f"prod-{i}" for i in range(1, 601)), key=natural_key)
    assert names[:3] == ["prod-1", "prod-2", "prod-3"] and names.index("prod-51") < names.index("prod-451")
    state = State(NOW, (session(VALID, accts=accounts(600, roles=("Admin",), names=names)),))
    groups = [i for i in build(state, Recorder()) if i.text.startswith("Accounts ")]
    shown = []
    for group in groups:
        inside = [c.text.split(" (")[0] for c in group.children()]
        assert group.text == f"Accounts {inside[0]} … {inside[-1]}", (group.text, inside)
        shown += inside
    assert shown == names


def copy_depths(items, rec: Recorder, depth: int = 1) -> dict[str, int]:
    """How many menu levels down each profile's Copy (in the default format) is, following groups and
    accounts but not the roles' own submenus, the menu itself being level 1: each Copy found is clicked,
    and the profile it copied is what counts."""
    found = {}
    for item in items:
        if item.text.startswith("Copy ") and item.text.endswith("(bash)") and item.action:
            item.action()
            name, (profile, fmt), _ = rec.calls.pop()
            assert (name, fmt) == ("copy_export", None), item.text
            found.setdefault(profile, depth)
        elif item.submenu is not None and (item.text.startswith("Accounts") or item.text.endswith(")")):
            for profile, level in copy_depths(item.children(), rec, depth + 1).items():
                found.setdefault(profile, level)
    return found


@pytest.mark.parametrize(("n_accounts", "most"), [(1, 2), (15, 2), (16, 3), (25, 3), (30, 3), (31, 3), (600, 3), (601, 4),
                                                  (1000, 4), (5000, 4)])
def test_every_roles_copy_is_at_most_3_levels_down_up_to_30_accounts_and_4_at_5000(n_accounts, most):
    accts = accounts(n_accounts, roles=("Admin", "ReadOnly", "Billing"))
    rec = Recorder()
    items = build(State(NOW, (session(VALID, accts=accts),)), rec)
    depths = copy_depths(items, rec)
    assert set(depths) == {r.profile for a in accts for r in a.roles}  # every role's, and it copies that role
    assert max(depths.values()) == most, n_accounts
    if n_accounts <= menu.ACCOUNTS_MAX:  # no groups: the accounts themselves, or one "Accounts" submenu of them
        assert not any(i.text.startswith("Accounts ") for i in items)


def test_an_accounts_submenu_holds_each_roles_copy_then_its_actions():
    accts = accounts(20, roles=("Admin", "ReadOnly"), profiles={(3, "ReadOnly"): "ops-read"})
    rec = Recorder()
    root = menu.Item("root", submenu=build(State(NOW, (session(VALID, accts=accts),), default_format="fish"), rec))
    listed = root.find("Accounts").children()
    assert texts(listed) == [f"{a.name} ({a.account_id})" for a in accts]
    account = root.find("Accounts", "acct-0003 (111100000003)")
    assert texts(account.children()) == ["Copy Admin (fish)", "Copy ReadOnly (fish)", "Admin", "ReadOnly — ops-read"]
    account.find("Copy ReadOnly (fish)").action()
    account.find("ReadOnly — ops-read", "Open console").action()
    assert rec.calls == [("copy_export", ("ops-read", None), {}), ("open_console", ("ops-read",), {})]


@pytest.mark.parametrize("n_accounts", [40, 300, 1000, 5000])
def test_many_accounts_grouped_so_that_a_person_can_find_one(n_accounts):
    from tray.simulator.directory import default_account_name

    names = sorted((default_account_name(i) for i in range(n_accounts)), key=str.lower)
    accts = accounts(n_accounts, roles=("Admin", "ReadOnly", "Billing"), names=names)
    state = State(NOW, (session(VALID, accts=accts),))
    items = build(state, Recorder())
    groups = [i for i in items if i.text.startswith("Accounts ")]
    assert 2 <= len(groups) <= menu.TOP_GROUPS and len(items) < 40
    # every account once, in order, through groups of at most GROUP_MAX; each group's label brackets its names
    found = []

    def walk(group, lo_name=None):
        children = group.children()
        assert 1 <= len(children) <= menu.GROUP_MAX
        label = group.text.removeprefix("Accounts ")
        start, _, end = label.partition(" … ")
        for child in children:
            name = child.text.removeprefix("Accounts ").split(" (")[0]
            assert name.lower().startswith(start.rstrip("…").lower()) or name.lower() >= start.lower(), (group.text, name)
            assert not end or name.lower()[: len(end)] <= end.lower(), (group.text, name)
            if child.text.startswith("Accounts "):
                walk(child)
            else:
                found.append(child.text)
    for g in groups:
        walk(g)
    assert found == [f"{a.name} ({a.account_id})" for a in accts]


def test_5000_accounts_build_and_open_fast_and_lazily(monkeypatch):
    accts = accounts(5000, roles=("Admin", "ReadOnly", "Billing"))
    state = State(NOW, (session(VALID, accts=accts),))
    made = []
    real = menu.role_actions
    monkeypatch.setattr(menu, "role_actions", lambda *a: made.append(a) or real(*a))
    rec = Recorder()
    build(state, rec)  # warm
    started = time.perf_counter()
    items = build(state, rec)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.05, f"menu build took {elapsed * 1000:.1f} ms"
    assert made == []  # no role's actions made before it is opened
    group = next(i for i in items if i.text.startswith("Accounts "))
    started = time.perf_counter()
    while group.text.startswith("Accounts "):  # open a group, then its first, down to an account, its role
        group = group.children()[0]
    role = next(i for i in group.children() if i.submenu is not None)
    role.children()
    elapsed = time.perf_counter() - started
    assert elapsed < 0.1, f"opening down to a role took {elapsed * 1000:.1f} ms"
    assert len(made) == 1


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


def test_the_last_outcome_is_marked_when_it_failed():
    from datetime import datetime, timezone

    from tray.core.engine.state import State
    from tray.ui.menu import build

    now = datetime.now(timezone.utc)
    ok = [i.text for i in build(State(now=now, message="Copied bash export lines for x."), Recorder())]
    failed = [i.text for i in build(State(now=now, message="cannot reach Identity Center", message_failed=True), Recorder())]
    assert "Copied bash export lines for x." in ok
    assert "⚠ cannot reach Identity Center" in failed

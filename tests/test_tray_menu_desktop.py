"""The new menu of the real tray, read and clicked the way a panel does it: over AppIndicator's
com.canonical.dbusmenu on a virtual desktop, against the Identity Center simulator.

- the profiles of the AWS config appear by their own names, and each one's Copy puts that profile's
  credentials, with its region, on the clipboard (xclip reads them back; a real bash evaluates them);
- a role a profile points at shows the profile's name beside it under its account;
- submenus are made when opened: before a panel's AboutToShow a group holds one placeholder, after it
  the accounts are there.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import START_URL, need_program, sim_accounts, write_config
from desktop import VirtualDesktop, wait_for
from tray.core.naming import natural_key

pytestmark = pytest.mark.display

REGIONS = ("eu-west-1", "us-west-2", "ap-southeast-2", "eu-central-1")
PLACEHOLDER = "…"


def twelve_profiles(sim) -> list[tuple[str, str, str, str]]:
    """(name, account id, role, region) of 12 profiles on 12 different accounts, named as a team would."""
    teams = ("billing", "checkout", "data-lake", "edge", "identity", "ledger", "mobile", "payments",
             "platform", "search", "security", "web")
    accounts = sim_accounts(sim)
    return [(f"{team}-{('admin', 'read', 'deploy')[i % 3]}", accounts[3 * i].account_id,
             accounts[3 * i].roles[i % len(accounts[3 * i].roles)], REGIONS[i % len(REGIONS)])
            for i, team in enumerate(teams)]


@pytest.fixture
def world(home, simulator, monkeypatch):
    """40 accounts x 3 roles (so the accounts are grouped), a config with 12 named profiles, signed in."""
    simulator.options.accounts = 40
    simulator.options.roles_per_account = 3
    profiles = twelve_profiles(simulator)
    config = f"[sso-session dev]\nsso_start_url = {START_URL}\nsso_region = us-east-1\n"
    for name, account, role, region in profiles:
        config += f"\n[profile {name}]\nsso_session = dev\nsso_account_id = {account}\nsso_role_name = {role}\nregion = {region}\n"
    write_config(home, config)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", simulator.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", simulator.url)
    from tray.core.identity.config import AwsConfig
    from tray.core.identity.signin import SignInOptions, login

    login(AwsConfig.load().session("dev"), SignInOptions(opener=lambda url: urllib.request.urlopen(url, timeout=30).read()))
    return simulator, profiles


@pytest.fixture
def tray(tmp_path, world, home):
    need_program("xclip")
    with VirtualDesktop(tmp_path / "desktop") as desktop:
        process = desktop.start_tray(tmp_path / "logs")
        try:
            yield desktop, process
        finally:
            process.stop()
            desktop.end_processes(HOME=str(home))
    assert "Traceback" not in process.stderr, process.stderr


def exported(text: str, tmp_path: Path) -> dict[str, str]:
    """The variables a real bash has after evaluating the copied lines (given in a file, not on a command line)."""
    script = tmp_path / "copied.sh"
    script.write_text(text, encoding="utf-8")
    out = subprocess.run(["bash", "-c", f'. "{script}"; env -0'], capture_output=True, text=True, timeout=10, env={})
    assert out.returncode == 0, out.stderr
    return dict(entry.split("=", 1) for entry in out.stdout.split("\0") if entry.startswith("AWS_"))


def cached_key(home: Path, account: str, role: str) -> str:
    """The access key id the tray cached for this account and role, where the AWS CLI v2 keeps it."""
    from tray.core.identity.config import AwsConfig
    from tray.core.identity.rolecreds import role_cache_path

    path = role_cache_path(AwsConfig.load().session("dev"), account, role)
    return json.loads(path.read_text(encoding="utf-8"))["Credentials"]["AccessKeyId"]


def test_configured_profiles_by_name_and_each_copy_has_its_region(tray, world, home, tmp_path):
    desktop, process = tray
    sim, profiles = world
    names = [name for name, *_ in profiles]
    layout = process.wait_menu(lambda m: set(names) <= set(m.labels()) and any(c.label.startswith("Accounts ") for c in m.children),
                               30, "the 12 profiles by name and the listed accounts")
    labels = layout.labels()
    assert labels.index("Find a role…") < labels.index(sorted(names)[0])
    assert [lab for lab in labels if lab in names] == sorted(names)  # by name, in the person's order
    seen = set()
    for name, account, role, region in profiles:
        assert process.menu().open(name).labels()[:3] == ["Copy export lines (bash)", "Copy as", "Open console"]
        process.click(name, "Copy export lines (bash)")

        def copied():
            text = desktop.clipboard()
            return text if "AWS_ACCESS_KEY_ID" in text and text not in seen else None
        text = wait_for(copied, 15, 0.1, f"{name}'s export lines on the clipboard")
        seen.add(text)
        # the outcome (and the profile among the recent ones) comes as a new menu just after the clipboard:
        # wait for it, so that the next click does not name an item of the menu it replaces
        process.wait_menu(lambda m: any(lab.startswith(f"Copied bash export lines for {name} ") for lab in m.labels()),
                          15, f"the menu to say {name} was copied")
        variables = exported(text, tmp_path)
        assert variables["AWS_REGION"] == region and variables["AWS_DEFAULT_REGION"] == region, (name, variables.keys())
        assert variables["AWS_ACCESS_KEY_ID"] == cached_key(home, account, role), name
    # the role a profile points at carries the profile's name under its account too
    name, account, role, _region = profiles[4]
    account_name = next(a.name for a in sim_accounts(sim) if a.account_id == account)
    group = next(c.label for c in process.layout().children
                 if c.label.startswith("Accounts ") and f"{account_name} ({account})" in process.menu().open(c.label).labels())
    roles = process.menu().open(group, f"{account_name} ({account})").labels()
    assert f"{role} — {name}" in roles and role not in roles, roles


def test_submenus_are_made_when_a_panel_opens_them(tray, world):
    desktop, process = tray
    sim, profiles = world
    layout = process.wait_menu(lambda m: any(c.label.startswith("Accounts ") for c in m.children), 30, "the listed accounts")
    groups = [c for c in layout.children if c.label.startswith("Accounts ")]
    assert 2 <= len(groups) <= 20, layout.dump()
    # before AboutToShow: one placeholder per submenu, nothing below it
    for group in groups:
        assert [c.label for c in group.children] == [PLACEHOLDER] and not group.children[0].enabled, layout.dump()
    for name, *_ in profiles:
        assert [c.label for c in layout.find(name).children] == [PLACEHOLDER], layout.dump()
    exported_items = sum(1 for _ in layout.walk())
    assert exported_items < 80, f"{exported_items} items exported before anything was opened:\n{layout.dump()}"
    # AboutToShow on a group, as a panel does when it opens it: its accounts appear in GetLayout
    menu = process.menu()
    menu.about_to_show(groups[1].id)
    opened = wait_for(lambda: (lambda n: n if n.labels() != [PLACEHOLDER] else None)(menu.subtree(groups[1].id)),
                      5, 0.05, "the group's accounts after AboutToShow")
    accounts = {f"{a.name} ({a.account_id})" for a in sim_accounts(sim)}
    assert opened.labels() and set(opened.labels()) <= accounts, opened.dump()
    # the accounts in it are made but not their roles, until those are opened in turn
    first = opened.children[0]
    assert [c.label for c in first.children] == [PLACEHOLDER]
    menu.about_to_show(first.id)
    made = wait_for(lambda: (lambda n: n if n.labels() != [PLACEHOLDER] else None)(menu.subtree(first.id)),
                    5, 0.05, "the account's roles after AboutToShow")
    account = next(a for a in sim_accounts(sim) if f"{a.name} ({a.account_id})" == first.label)
    roles = sorted(account.roles, key=natural_key)
    # each role's Copy, then each role's submenu, itself still closed
    assert made.labels() == [f"Copy {r} (bash)" for r in roles] + ["-"] + [
        next(lab for lab in made.labels() if lab.split(" — ")[0] == r) for r in roles], made.dump()
    assert all([c.label for c in node.children] == [PLACEHOLDER] for node in made.children[len(roles) + 1:]), made.dump()
    # the other groups are still closed
    assert [c.label for c in menu.subtree(groups[0].id).children] == [PLACEHOLDER]


SHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"


def test_gtk_popup_fills_a_group_when_the_keyboard_reaches_it(tray, world):
    """The menu as a person opens it on a desktop without a StatusNotifier host: AppIndicator falls back to
    an XEmbed icon in trayer and a real GTK popup; moving into an account group (GTK's "select") makes its
    accounts. The screen is saved as artifacts/screenshots/menu-accounts.png."""
    need_program("xdotool")
    desktop, process = tray
    layout = process.wait_menu(lambda m: any(c.label.startswith("Accounts ") for c in m.children), 30, "the listed accounts")
    group = next(c for c in layout.children if c.label.startswith("Accounts "))
    sensitive = [c for c in layout.children if c.enabled and not c.is_separator and c.visible]
    desktop.move_mouse(500, 500)
    desktop.click_icon(1)
    wait_for(desktop.popup_windows, 10, 0.1, "the tray's menu to open")
    for _ in range(sensitive.index(group) + 1):
        desktop.press("Down")
    desktop.press("Right")
    boxes = wait_for(lambda: (lambda b: b if len(b) >= 2 else None)(desktop.popup_windows()), 10, 0.1, "the group's submenu to open")
    filled = process.menu().subtree(group.id)  # the same GTK items, as libdbusmenu mirrors them
    assert filled.labels() != [PLACEHOLDER] and all(lab.endswith(")") for lab in filled.labels()), filled.dump()
    time.sleep(0.5)  # let GTK finish drawing it (the picture only; what is in it was checked above)
    screen = desktop.screenshot()
    left = min(b[0] for b in boxes)
    bottom = max(b[3] for b in boxes)
    SHOTS.mkdir(parents=True, exist_ok=True)
    screen.crop((max(0, left - 16), 0, screen.width, min(screen.height, bottom + 16))).save(SHOTS / "menu-accounts.png")
    desktop.press("Escape")
    desktop.press("Escape")


def test_a_click_rebuilds_nothing_and_a_radio_keeps_the_states_mark(tray, world, home):
    """pystray rebuilds the whole menu after every click; the tray's menu changes only with its State. Clicking
    the default export format that is already chosen changes nothing: the same items (libdbusmenu gives a
    rebuilt menu new ids), and "bash" still marked although GTK unmarks a radio item it activates."""
    desktop, process = tray
    settings = home / ".config" / "sso-tray" / "settings.json"
    listed = process.wait_menu(lambda m: "Refresh accounts" in m.labels() and any(c.label.startswith("Accounts ") for c in m.children),
                               30, "the listed accounts")
    ids = [c.id for c in listed.children]
    assert listed.find("Settings", "Default export format", "bash").checked is True
    process.click("Settings", "Default export format", "bash")
    wait_for(settings.exists, 10, 0.05, "the settings to be saved")
    layout = process.layout()
    assert [c.id for c in layout.children] == ids, layout.dump()
    assert layout.find("Settings", "Default export format", "bash").checked is True, layout.dump()


def _step_towards(node, name: str, account_label: str) -> str:
    """Which item of an opened menu leads to the account: itself, the one "Accounts" submenu, or the group
    whose label's whole names bracket it in number-aware order."""
    labels = [c.label for c in node.children if not c.is_separator]
    if account_label in labels or "Accounts" in labels:
        return account_label if account_label in labels else "Accounts"
    for label in labels:
        first, sep, last = label.removeprefix("Accounts ").partition(" … ")
        if label.startswith("Accounts ") and sep and natural_key(first) <= natural_key(name) <= natural_key(last):
            return label
    raise AssertionError(f"no way to {account_label} in {labels}")


@pytest.mark.parametrize(("n_accounts", "levels"), [(25, 3), (5000, 4)])
def test_a_roles_copy_is_3_menu_levels_down_with_25_accounts_and_4_with_5000(n_accounts, levels, tmp_path, home, simulator, monkeypatch):
    """Followed over dbusmenu as a panel opens it, from the top of the menu to a role's Copy, counting the
    menus on the way (the top one is level 1); the Copy copies that role's credentials. With 25 accounts
    they are one "Accounts" submenu in number-aware order, no groups; with 5000, each group on the way holds
    the run of names its label brackets."""
    need_program("xclip")
    simulator.options.accounts = n_accounts
    write_config(home, f"[sso-session dev]\nsso_start_url = {START_URL}\nsso_region = us-east-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", simulator.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", simulator.url)
    from tray.core.identity.config import AwsConfig
    from tray.core.identity.signin import SignInOptions, login

    login(AwsConfig.load().session("dev"), SignInOptions(opener=lambda url: urllib.request.urlopen(url, timeout=30).read()))
    directory = sim_accounts(simulator)
    target = next(a for a in directory if a.name == ("network-17" if n_accounts == 25 else "prod-4051"))
    account_label, role = f"{target.name} ({target.account_id})", sorted(target.roles, key=natural_key)[-1]
    with VirtualDesktop(tmp_path / "desktop") as desktop:
        process = desktop.start_tray(tmp_path / "logs")
        try:
            process.wait_menu(lambda m: any(c.label.startswith("Accounts") for c in m.children), 300, "the listed accounts")
            menu, path = process.menu(), []
            node = menu.open()
            while f"Copy {role} (bash)" not in node.labels():
                path.append(_step_towards(node, target.name, account_label))
                node = menu.open(*path)
                if path[-1].startswith("Accounts "):  # a group: the whole names of its first and last entries
                    inside = [c.label.removeprefix("Accounts ") for c in node.children]
                    first, _, last = path[-1].removeprefix("Accounts ").partition(" … ")
                    assert inside[0].startswith(first) and inside[-1].split(" (")[0].endswith(last), (path, inside)
                elif path[-1] == "Accounts":
                    names = [lab.split(" (")[0] for lab in node.labels()]
                    assert names == sorted((a.name for a in directory), key=natural_key), names
                    assert names.index("network-7") < names.index("network-17")
            path.append(f"Copy {role} (bash)")
            assert len(path) == levels, path
            process.click(*path)
            text = wait_for(lambda: (lambda t: t if "AWS_ACCESS_KEY_ID" in t else None)(desktop.clipboard()), 15, 0.1,
                            "the role's export lines on the clipboard")
            assert exported(text, tmp_path)["AWS_ACCESS_KEY_ID"] == cached_key(home, target.account_id, role)
        finally:
            process.stop()
            desktop.end_processes(HOME=str(home))
    assert "Traceback" not in process.stderr, process.stderr

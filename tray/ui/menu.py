"""The tray menu as a pure function of the State: `build(state, actions)` gives plain Items, and
`to_pystray` turns them into a pystray.Menu. Nothing here does I/O: the menu opens instantly and is
tested without a display.

Top to bottom (SPEC §7): one status line per session (an `aws login` profile is one too); sign in / sign in
again / sign out; "Find a role…"; favourites and recent profiles; the configured profiles by their own names
(a login profile's among them); accounts → each role's Copy, and roles → actions; Refresh accounts;
Revoke terminal tokens; Settings; Quit. With no SSO session configured: "Set up AWS SSO…".

A role's Copy is few levels down (SPEC §7): an account's submenu holds each role's Copy itself, then the
role's submenu with the other actions. Up to INLINE accounts sit in the menu itself, up to ACCOUNTS_MAX
in one "Accounts" submenu (Accounts → account → Copy: 3 levels); more are grouped, one level of groups up
to 600 accounts and two up to 18000 (group → group → account → Copy: 4 levels). Names are in number-aware
order (network-7 before network-17), and a group is labelled with the whole names of its first and last
entries ("prod-451 … prod-531"), like a dictionary's guide words.

The cost is bounded: every submenu below the top (a group, an account, a role's actions) is a function
that makes its items when asked for, and `to_pystray` hands those to the backend as `LazyMenu`s, which
the GTK backends fill when the submenu is opened (tray.ui.lazymenu).
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Protocol, Sequence

from tray.core.engine.state import ERROR, EXPIRED, EXPIRING, LOGIN, SIGNED_OUT, SIGNING_IN, VALID, AccountView, RoleView, SessionView, State, clock_time, describe_left
from tray.core.naming import natural_key

FORMATS = ("bash", "zsh", "sh", "fish", "powershell", "cmd", "dotenv", "json")
INLINE = 15  # up to this many accounts (or profiles) sit in the menu itself; more are grouped ...
ACCOUNTS_MAX = 30  # ... but up to this many accounts are one "Accounts" submenu, not groups
TOP_GROUPS = 20  # at most this many groups in the menu itself ...
GROUP_MAX = 30  # ... and at most this many entries in a group's submenu (deeper groups when more)
FIND_TEXT = "Find a role…"
SETUP_TEXT = "Set up AWS SSO…"
REVOKE_TEXT = "Revoke terminal tokens"  # the tokens of "Copy as auto-refreshing" (tray.ui.terminals)
WARNING_CHOICES = ((30, 10, 2), (15, 5), (10,), (5,))
CLIPBOARD_CHOICES = (30, 90, 300, 0)
MAX_TEXT = 90


class Actions(Protocol):
    def sign_in(self, session: str): ...
    def cancel_sign_in(self, session: str): ...
    def sign_out(self, session: str): ...
    def refresh_accounts(self, session: str): ...
    def retry_now(self, session: str): ...
    def copy_export(self, profile: str, fmt: str | None = None): ...
    def copy_refreshing(self, profile: str, fmt: str | None = None): ...
    def revoke_terminal_tokens(self): ...
    def write_credentials(self, profile: str): ...
    def toggle_pinned(self, profile: str): ...
    def toggle_favourite(self, profile: str): ...
    def open_console(self, profile: str): ...
    def open_finder(self): ...
    def open_setup(self): ...
    def update_settings(self, **changes): ...
    def set_autostart(self, on: bool): ...
    def quit(self): ...


@dataclass(frozen=True, slots=True)
class Item:
    text: str
    action: Callable[[], object] | None = None
    submenu: Callable[[], tuple["Item", ...]] | tuple["Item", ...] | None = None
    checked: bool | None = None  # None: not a check item
    radio: bool = False
    enabled: bool = True
    default: bool = False

    def children(self) -> tuple["Item", ...]:
        """The submenu's items (role submenus are built only when asked for)."""
        if self.submenu is None:
            return ()
        return self.submenu() if callable(self.submenu) else self.submenu

    def find(self, *path: str) -> "Item":
        """The item reached by following texts (for tests and the D-Bus driver)."""
        item = self
        for text in path:
            item = next(i for i in item.children() if i.text == text)
        return item


SEPARATOR = Item("-", enabled=False)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def status_text(s: SessionView, now: datetime) -> str:
    """`dev — 5h 12m left, until 17:42`, `dev — signed out`, …"""
    if s.state == SIGNING_IN:
        return f"{s.name} — signing in…"
    if s.state in (VALID, EXPIRING) or (s.state == ERROR and s.expires_at and s.expires_at > now):
        text = f"{s.name} — {describe_left(s.expires_at - now)} left, until {clock_time(s.expires_at, now)}"
        return text + (" (problem)" if s.state == ERROR else "")
    if s.state == EXPIRED or (s.expires_at is not None and s.expires_at <= now):
        return f"{s.name} — expired at {clock_time(s.expires_at, now)}"
    return f"{s.name} — signed out" + (" (problem)" if s.state == ERROR else "")


def failing_lines(s: SessionView, now: datetime) -> list[str]:
    """A session whose renewal or listing fails: what the person needs to know (the error's details and
    URL are in the log)."""
    if s.retry_at is None or s.retry_at <= now:
        return ["    Can't reach AWS — retrying now"]
    return [f"    Can't reach AWS — retrying in {describe_wait(s.retry_at - now)}"]


def describe_wait(delta) -> str:
    """`30 s`, `4 min`: how long until the next try."""
    seconds = max(1, round(delta.total_seconds()))
    return f"{seconds} s" if seconds < 90 else f"{round(seconds / 60)} min"


def problem_lines(problem: str, lines: int = 3) -> list[str]:
    """A session's problem under its status line, indented, wrapped over up to `lines` lines: clipped to
    one line, a problem that starts with a file's path would lose its reason ("…/cache/34c6….json: the
    cached token is corrupt…")."""
    wrapped = textwrap.wrap(problem, MAX_TEXT - 4, break_long_words=True, break_on_hyphens=False) or [""]
    if len(wrapped) > lines:
        wrapped = wrapped[: lines - 1] + [" ".join(wrapped[lines - 1 :])]
    return [_clip(f"    {line}") for line in wrapped]


def tooltip(state: State, platform: str | None = None) -> str:
    """The icon's title: each session and its time left (never a secret), within the platform's tooltip
    limit (Windows: 127, and pystray raises ValueError above it). Sessions that do not fit are counted
    ("+3 more"); one that does not fit alone is cut in the middle, so its time left stays readable."""
    from tray.ui.platform import fit, text_length, text_limits

    limit = text_limits(platform).tooltip
    if state.problem:
        return fit(_clip(f"sso-tray — {state.problem}"), limit)
    if not state.sessions:
        return "sso-tray — no SSO session configured"
    lines = [status_text(s, state.now) for s in state.sessions]
    text = _tooltip_of(lines, len(lines))
    if limit is None or text_length(text) <= limit:
        return text
    shown = max(1, len(lines) - 1)
    while shown > 1 and text_length(_tooltip_of(lines, shown)) > limit:
        shown -= 1
    room = limit - text_length(_tooltip_of(["", *lines[1:]], shown))
    return _tooltip_of([fit(lines[0], room, middle=True), *lines[1:]], shown)


def indicator_label(state: State) -> str:
    """The time left beside the icon (AppIndicator's label, the macOS menu-bar title) once the most urgent
    session is inside its first warning; empty before that, so the panel is not crowded all day."""
    s = state.icon_session
    if s is None or s.state not in (VALID, EXPIRING) or s.expires_at is None:
        return ""
    left = s.expires_at - state.now
    if left > timedelta(minutes=max(state.warn_minutes, default=0)) or left <= timedelta(0):
        return ""
    return describe_left(left)


def _tooltip_of(lines: list[str], shown: int) -> str:
    """The first `shown` status lines, and how many more there are."""
    rest = len(lines) - shown
    return "sso-tray — " + " · ".join(lines[:shown]) + (f" · +{rest} more" if rest else "")


def _session_actions(s: SessionView, actions: Actions, named: bool) -> list[Item]:
    suffix = f" ({s.name})" if named else ""
    if s.state == SIGNING_IN:
        return [Item(f"Cancel sign-in{suffix}", lambda: actions.cancel_sign_in(s.name))]
    if s.state == SIGNED_OUT or s.expires_at is None:
        return [Item(f"Sign in{suffix}", lambda: actions.sign_in(s.name), default=True)]
    items = []
    if s.failing:
        items.append(Item(f"Retry now{suffix}", lambda: actions.retry_now(s.name)))
    # with hours left that renew themselves, signing in again is nothing the person needs to do
    if s.state in (EXPIRING, EXPIRED, ERROR) or s.failing:
        items.append(Item(f"Sign in again{suffix}", lambda: actions.sign_in(s.name), default=s.state in (EXPIRING, EXPIRED)))
    if s.state != EXPIRED:
        items.append(Item(f"Sign out{suffix}", lambda: actions.sign_out(s.name)))
    return items


def is_configured(role: RoleView) -> bool:
    """A profile of the AWS config, shown by its own name (a discovered role's profile is ACCOUNT_ID/ROLE_NAME)."""
    return role.profile != f"{role.account_id}/{role.role_name}"


def role_label(role: RoleView) -> str:
    """The role's name, with the configured profile's name beside it where a profile points at it."""
    return _clip(f"{role.role_name} — {role.profile}") if is_configured(role) else role.role_name


def role_actions(role: RoleView, state: State, actions: Actions) -> tuple[Item, ...]:
    profile = role.profile
    fmt = state.default_format
    others = tuple(Item(f, lambda f=f: actions.copy_export(profile, f)) for f in FORMATS if f != fmt)
    favourite = profile in state.favourite_names
    items = (
        Item(f"Copy export lines ({fmt})", lambda: actions.copy_export(profile, None), default=True),
        Item("Copy as", submenu=others),
        Item("Open console", lambda: actions.open_console(profile)),
        Item("Copy as auto-refreshing", lambda: actions.copy_refreshing(profile)),
        Item("Write to credentials file", lambda: actions.write_credentials(profile)),
        Item("Keep fresh in credentials file", lambda: actions.toggle_pinned(profile), checked=profile in state.pinned),
        Item("Remove from favourites" if favourite else "Add to favourites", lambda: actions.toggle_favourite(profile)),
    )
    if role.login:
        # an `aws login` profile: no console sign-in for its credentials yet, and a credentials-file section
        # of its own name would hide it from botocore (the writer refuses it)
        return tuple(i for i in items if i.text not in LOGIN_HIDDEN)
    return items


LOGIN_HIDDEN = ("Open console", "Write to credentials file", "Keep fresh in credentials file")


def _role_item(role: RoleView, state: State, actions: Actions, text: str | None = None) -> Item:
    return Item(text or role_label(role), submenu=lambda: role_actions(role, state, actions))


def account_roles(account: AccountView, state: State, actions: Actions) -> tuple[Item, ...]:
    """An account's submenu: each role's Copy in the default format, one click away, then each role's
    submenu of every action."""
    fmt = state.default_format
    copies = [Item(_clip(f"Copy {r.role_name} ({fmt})"), lambda r=r: actions.copy_export(r.profile, None)) for r in account.roles]
    return (*copies, SEPARATOR, *(_role_item(r, state, actions) for r in account.roles))


def _account_item(account: AccountView, state: State, actions: Actions) -> Item:
    # an account known only from the config (not listed yet) has no name: its id, once
    label = account.account_id if account.name == account.account_id else f"{account.name} ({account.account_id})"
    return Item(_clip(label), submenu=lambda: account_roles(account, state, actions))


def _common(a: str, b: str) -> int:
    """How many leading letters two names share (ignoring case, as the engine's order does)."""
    n = 0
    for x, y in zip(a.lower(), b.lower()):
        if x != y:
            break
        n += 1
    return n


def _split(names: Sequence[str], lo: int, hi: int, parts: int, cap: int) -> list[int]:
    """Where to cut names[lo:hi] (sorted) into `parts` runs of about equal size and at most `cap` names:
    each cut moves, by up to a quarter of a run, to where its two neighbours part earliest, so runs start at
    a new letter where they can; never so far that a run outgrows its level (a group of 31 would need a
    level of groups more)."""
    size = (hi - lo) / parts
    slack = int(size // 4)
    cuts = [lo]
    for j in range(1, parts):
        ideal = lo + round(j * size)
        first = max(cuts[-1] + 1, ideal - slack, hi - (parts - j) * cap)
        last = min(hi - (parts - j), ideal + slack, cuts[-1] + cap)
        cuts.append(min(range(first, last + 1), key=lambda b: (_common(names[b - 1], names[b]), abs(b - ideal))))
    return cuts + [hi]


def range_label(names: Sequence[str], lo: int, hi: int, room: int = MAX_TEXT) -> str:
    """What a run of sorted names is called: its first and last names, whole ("prod-451 … prod-531"), each
    cut in the middle when the two do not fit in `room` letters."""
    first, last = names[lo], names[hi - 1]
    if hi - lo == 1:
        return _middle(first, room)
    half = (room - 3) // 2
    return f"{_middle(first, half)} … {_middle(last, half)}"


def _middle(name: str, room: int) -> str:
    """The name, or its start and end around "…" when it is longer than `room` (names differ at both ends)."""
    if len(name) <= room:
        return name
    head = (room - 1) // 2
    return name[:head] + "…" + name[len(name) - (room - 1 - head):]


def grouped(names: Sequence[str], make: Callable[[int], Item], noun: str, top: bool = True,
            lo: int = 0, hi: int | None = None) -> list[Item]:
    """Items for names[lo:hi] (sorted; `make(i)` gives the i-th one's item): themselves when few, else groups
    of about equal size named by `range_label`, nested so that no menu holds more than TOP_GROUPS (the menu
    itself) or GROUP_MAX (a group) entries. Each group's submenu is made only when it is opened."""
    hi = len(names) if hi is None else hi
    n = hi - lo
    if n <= (INLINE if top else GROUP_MAX):
        return [make(i) for i in range(lo, hi)]
    levels, room = 1, TOP_GROUPS if top else GROUP_MAX
    while room < n:
        levels, room = levels + 1, room * GROUP_MAX
    levels = max(levels, 2)
    parts = min(TOP_GROUPS if top else GROUP_MAX, max(2, math.ceil(n ** (1 / levels))))
    cuts = _split(names, lo, hi, parts, GROUP_MAX ** (levels - 1))
    return [Item(f"{noun} {range_label(names, a, b, MAX_TEXT - len(noun) - 1)}",
                 submenu=lambda a=a, b=b: tuple(grouped(names, make, noun, False, a, b)))
            for a, b in zip(cuts, cuts[1:])]


def account_items(accounts: Sequence[AccountView], state: State, actions: Actions) -> list[Item]:
    """Accounts (in the engine's number-aware order) in the menu itself when few, in one "Accounts" submenu
    up to ACCOUNTS_MAX, else in groups by name ("Accounts prod-451 … prod-531")."""
    if INLINE < len(accounts) <= ACCOUNTS_MAX:
        return [Item("Accounts", submenu=lambda: tuple(_account_item(a, state, actions) for a in accounts))]
    return grouped([a.name for a in accounts], lambda i: _account_item(accounts[i], state, actions), "Accounts")


def configured_profiles(state: State) -> list[RoleView]:
    """The AWS config's role profiles, by name, from every session's accounts."""
    found = [r for s in state.sessions for a in s.accounts for r in a.roles if is_configured(r)]
    return sorted(found, key=lambda r: natural_key(r.profile))


def profile_items(state: State, actions: Actions) -> list[Item]:
    """The configured profiles by their own names (grouped like accounts when many)."""
    profiles = configured_profiles(state)
    return grouped([r.profile for r in profiles], lambda i: _role_item(profiles[i], state, actions, _clip(profiles[i].profile)), "Profiles")


def _settings(state: State, actions: Actions) -> Item:
    def fmt_item(f):
        return Item(f, lambda: actions.update_settings(default_format=f), checked=f == state.default_format, radio=True)

    def warn_item(choice):
        text = " and ".join(", ".join(str(m) for m in choice).rsplit(", ", 1)) + " minutes before"
        return Item(text, lambda: actions.update_settings(warn_minutes=list(choice), notifications=True),
                    checked=state.notifications and tuple(state.warn_minutes) == choice, radio=True)

    def clip_item(seconds):
        text = "Never" if seconds == 0 else (f"After {seconds} s" if seconds < 120 else f"After {seconds // 60} min")
        return Item(text, lambda: actions.update_settings(clear_clipboard_after=seconds), checked=state.clear_clipboard_after == seconds, radio=True)

    return Item("Settings", submenu=(
        Item("Default export format", submenu=tuple(fmt_item(f) for f in FORMATS)),
        Item("Expiry warnings", submenu=tuple(warn_item(c) for c in WARNING_CHOICES) + (
            Item("Off", lambda: actions.update_settings(notifications=False), checked=not state.notifications, radio=True),)),
        Item("Clear clipboard", submenu=tuple(clip_item(s) for s in CLIPBOARD_CHOICES)),
        Item("Start at login", lambda: actions.set_autostart(not state.autostart), checked=state.autostart),
    ))


def build(state: State, actions: Actions) -> tuple[Item, ...]:
    now = state.now
    items: list[Item] = []
    if state.problem:
        items.append(Item(_clip(f"⚠ {state.problem}"), enabled=False))
    for s in state.sessions:
        items.append(Item(status_text(s, now), enabled=False))
        if s.failing:  # the failure's details (a URL, the error) are in the log, not in the way here
            items += [Item(line, enabled=False) for line in failing_lines(s, now)]
        elif s.problem:
            items += [Item(line, enabled=False) for line in problem_lines(s.problem)]
    if not state.sessions:
        if not state.problem:
            items.append(Item("No SSO session configured", enabled=False))
        items.append(Item(SETUP_TEXT, lambda: actions.open_setup(), default=True))
    named = len(state.sessions) > 1
    for s in state.sessions:
        items += _session_actions(s, actions, named)
    if state.sessions:
        items += [SEPARATOR, Item(FIND_TEXT, lambda: actions.open_finder())]
    shortcuts = [(r, "★ ") for r in state.favourites] + [(r, "") for r in state.recent]
    items += [_role_item(r, state, actions, _clip(f"{star}{r.profile} — {r.account_name} / {r.role_name}")) for r, star in shortcuts]
    profiles = profile_items(state, actions)
    if profiles:
        items += [SEPARATOR, *profiles]
    for s in state.sessions:
        if s.accounts and s.kind != LOGIN:  # a login profile's one account is its profile, shown by name above
            items.append(SEPARATOR)
            if named:
                items.append(Item(f"{s.name} accounts", enabled=False))
            items += account_items(s.accounts, state, actions)
    usable = [s for s in state.sessions if s.state in (VALID, EXPIRING, ERROR) and s.expires_at and s.expires_at > now and s.kind != LOGIN]
    if usable:
        items.append(SEPARATOR)
        for s in usable:
            text = "Refreshing accounts…" if s.refreshing else "Refresh accounts"
            items.append(Item(f"{text} ({s.name})" if named else text, lambda s=s: actions.refresh_accounts(s.name), enabled=not s.refreshing))
        items.append(Item(REVOKE_TEXT, lambda: actions.revoke_terminal_tokens()))
    items.append(SEPARATOR)
    items.append(_settings(state, actions))
    if state.message:
        items.append(Item(_clip(("⚠ " if state.message_failed else "") + state.message), enabled=False))
    items.append(Item("Quit", actions.quit))
    return tuple(items)


def signature(state: State, items: Sequence[Item]) -> tuple[tuple, tuple]:
    """What the shown menu depends on, as (structure, labels). When only the labels of plain text lines
    change (the status lines' time left, once a minute), the tray relabels them in place instead of
    rebuilding a menu that may hold thousands of items."""
    structure = tuple((None if _is_label(i) else i.text, i.checked, i.enabled, i.default) for i in items)
    shown_in_submenus = (state.pinned, state.favourite_names, state.default_format, state.warn_minutes,
                         state.clear_clipboard_after, state.notifications, state.autostart)
    return (structure, shown_in_submenus, tuple(s.accounts for s in state.sessions)), tuple(i.text for i in items)


def _is_label(item: Item) -> bool:
    return item is not SEPARATOR and item.action is None and item.submenu is None and not item.enabled


def to_pystray(items: Sequence[Item]):
    """The same tree as a pystray.Menu (pystray is imported here, only by the running tray). A submenu
    given as a function becomes a LazyMenu: made when the backend opens it, not now."""
    import pystray

    from tray.ui.lazymenu import LazyMenu

    def convert(item: Item):
        if item is SEPARATOR:
            return pystray.Menu.SEPARATOR
        kwargs = {"enabled": item.enabled, "default": item.default, "radio": item.radio}
        if item.checked is not None:
            checked = item.checked
            kwargs["checked"] = lambda _i: checked
        if callable(item.submenu):
            return pystray.MenuItem(item.text, LazyMenu(lambda: [convert(c) for c in item.children()]), **kwargs)
        if item.submenu is not None:
            return pystray.MenuItem(item.text, pystray.Menu(*[convert(c) for c in item.children()]), **kwargs)
        action = item.action
        return pystray.MenuItem(item.text, (lambda _icon, _item: action()) if action else None, **kwargs)

    return pystray.Menu(*[convert(i) for i in items])


def flatten(items: Sequence[Item], depth: int = 0) -> list[tuple[int, Item]]:
    """Every item with its depth, submenus expanded (tests and benchmarks)."""
    out = []
    for item in items:
        out.append((depth, item))
        if item.submenu is not None:
            out += flatten(item.children(), depth + 1)
    return out

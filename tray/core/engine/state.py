"""The snapshot the tray draws from: everything the icon and the menu show, and nothing else.

Built by the engine from what it holds in memory; the UI turns it into an image and a menu with pure
functions, so opening the menu never does network or disk I/O and tests need no display.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# What a session shows, in the order the icon prefers when several sessions compete for it.
ERROR = "error"
SIGNING_IN = "signing_in"
EXPIRED = "expired"
EXPIRING = "expiring"
VALID = "valid"
SIGNED_OUT = "signed_out"
ICON_PRIORITY = (ERROR, SIGNING_IN, EXPIRED, EXPIRING, VALID, SIGNED_OUT)

SSO, LOGIN = "sso", "login"  # the kinds of session

EXPIRING_WITHIN = timedelta(minutes=30)  # "expiring soon" below this much time left


# slots: a tray with thousands of accounts holds one of these per role (and per account)
@dataclass(frozen=True, slots=True)
class RoleView:
    profile: str  # what `sso-tray export PROFILE` takes: a configured name or ACCOUNT_ID/ROLE_NAME
    account_id: str
    account_name: str
    role_name: str
    session: str
    login: bool = False  # an `aws login` profile: its own session; no console, nothing written under its name


@dataclass(frozen=True, slots=True)
class AccountView:
    account_id: str
    name: str
    roles: tuple[RoleView, ...]


@dataclass(frozen=True)
class SessionView:
    name: str
    state: str  # one of ICON_PRIORITY
    status: str = "signed_out"  # what the token cache file says: valid, expired or signed_out (as `sso-tray status`)
    expires_at: datetime | None = None
    lifetime: timedelta | None = None  # the token's whole lifetime, for the icon's ring
    problem: str | None = None  # shown in the menu under the status line
    accounts: tuple[AccountView, ...] = ()
    refreshing: bool = False  # accounts are being listed
    kind: str = SSO  # SSO: an sso-session; LOGIN: an `aws login` profile (its one account and principal in accounts)
    failing: bool = False  # the last network action for it failed: its state stays, with an error badge
    retry_at: datetime | None = None  # when that action is tried again

    def left(self, now: datetime) -> timedelta | None:
        return None if self.expires_at is None else max(timedelta(0), self.expires_at - now)

    def fraction_left(self, now: datetime) -> float:
        """0.0 … 1.0 of the session's time left, for the ring."""
        left = self.left(now)
        if left is None or not self.lifetime or self.lifetime.total_seconds() <= 0:
            return 0.0
        return max(0.0, min(1.0, left / self.lifetime))


@dataclass(frozen=True)
class State:
    now: datetime
    sessions: tuple[SessionView, ...] = ()
    favourites: tuple[RoleView, ...] = ()
    recent: tuple[RoleView, ...] = ()
    pinned: frozenset[str] = frozenset()  # profiles kept fresh in the credentials file
    favourite_names: frozenset[str] = frozenset()
    default_format: str = "bash"
    warn_minutes: tuple[int, ...] = (30, 10, 2)
    clear_clipboard_after: int = 90
    notifications: bool = True
    autostart: bool = False
    problem: str | None = None  # a problem not tied to one session (bad config, bad settings)
    message: str | None = None  # the last action's outcome, e.g. "Copied … (bash)"
    message_failed: bool = False  # that outcome is a failure

    @property
    def icon_session(self) -> SessionView | None:
        """The session the icon speaks for: the most urgent one."""
        if not self.sessions:
            return None
        return min(self.sessions, key=lambda s: (ICON_PRIORITY.index(s.state), s.expires_at or datetime.max.replace(tzinfo=self.now.tzinfo)))

    @property
    def icon_state(self) -> str:
        if self.problem:
            return ERROR
        s = self.icon_session
        return s.state if s else SIGNED_OUT


def clock_time(t: datetime, now: datetime | None = None) -> str:
    """A time as the person reads it: local `17:42`, with the weekday when it is not today."""
    local = t.astimezone()
    today = (now or datetime.now(local.tzinfo)).astimezone().date()
    return local.strftime("%H:%M") if local.date() == today else local.strftime("%a %H:%M")


def describe_left(delta: timedelta) -> str:
    """`5h 12m`, `3m`, `45s`: how long is left, as the menu and `status` say it."""
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "0m"
    days, rem = divmod(seconds, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"

"""What the engine remembers between events: each SSO session's record (only the engine thread reads or
writes it), and what the files it follows looked like when last read."""

from __future__ import annotations

import os
import random
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Hashable

from tray.core.engine.state import AccountView
from tray.core.identity import accounts
from tray.core.identity.config import LoginProfile, SsoSession
from tray.core.identity.login import LoginToken
from tray.core.identity.sessions import EXPIRED as STATUS_EXPIRED, SIGNED_OUT as STATUS_SIGNED_OUT, VALID as STATUS_VALID
from tray.core.identity.tokens import Token


@dataclass
class SessionRecord:
    """One session's record; only the engine thread reads or writes it."""

    session: SsoSession
    token: Token | None = None  # the token cache file as last read (None: no file, or unusable)
    seen: bytes | None = None  # the file's bytes when last read, to notice any change
    read_problem: str | None = None  # why the file is unusable
    problem: str | None = None  # what the engine's last action for it ran into
    error: bool = False  # the last network action failed (icon: an error badge) until one succeeds
    retry_at: datetime | None = None  # while in error: when the failed action is tried again
    signing_in: threading.Event | None = None  # set to cancel
    sign_in_done: Future | None = None  # resolves when the sign-in under way ends
    renewing: Future | None = None  # resolves when the renewal under way ends
    refused: str | None = None  # the access token whose refresh token the server refused
    discovery: accounts.Discovery | None = None
    refreshing: Future | None = None  # resolves when the account listing under way ends
    warned: set[int] = field(default_factory=set)
    warned_for: datetime | None = None  # the expiry the warnings above were given for
    noticed_for: datetime | None = None  # the expiry this session's notification on screen speaks of
    expiry_told: datetime | None = None  # the expiry whose "expired" notice was given (once each)
    outage_told: datetime | None = None  # the expiry for which a lost connection was notified (once each)
    lifetime: timedelta | None = None  # known when this tray signed in or renewed
    account_views: tuple[AccountView, ...] = ()

    def status(self, now: datetime) -> str:
        """What the file says: what `sso-tray status` computes from disk (before any renewal)."""
        if self.token is None:
            return STATUS_SIGNED_OUT
        return STATUS_VALID if self.token.is_valid(now) else STATUS_EXPIRED

    def renewable(self, now: datetime) -> bool:
        """The token can be renewed at `now`: it has a refresh token the server has not refused, and its
        client registration is still valid then."""
        t = self.token
        return bool(t and t.refreshable and t.registration_valid(now) and t.access_token != self.refused)


@dataclass
class LoginRecord:
    """One `aws login` profile's record (a login_session profile: a session of its own); only the engine
    thread reads or writes it. Its cache file holds 15-minute credentials and no end of the sign-in itself:
    a refused refresh is the first sign that the sign-in has ended."""

    profile: LoginProfile
    token: LoginToken | None = None  # the cache file as last read (None: no file, or unusable)
    seen: bytes | None = field(default=None, repr=False)  # the file's bytes when last read (secrets: never shown)
    read_problem: str | None = None  # why the file is unusable
    problem: str | None = None  # what the engine's last action for it ran into
    error: bool = False  # the last renewal failed on the network (icon: error) until one succeeds
    signing_in: threading.Event | None = None  # set to cancel
    sign_in_done: Future | None = None
    renewing: Future | None = None
    refused: str | None = None  # the access key whose refresh the sign-in service refused
    warned: set[int] = field(default_factory=set)
    warned_for: datetime | None = None

    def status(self, now: datetime) -> str:
        if self.token is None:
            return STATUS_SIGNED_OUT
        return STATUS_VALID if self.token.expires_at > now else STATUS_EXPIRED

    def renewable(self) -> bool:
        t = self.token
        return bool(t and t.refreshable and t.body["accessToken"]["accessKeyId"] != self.refused)


# The kinds of scheduled job. A job's key is (kind, session name) — (PIN, session name, profile) for a
# pinned profile, (TICK,) for the minute's tick, (MESSAGE,) for the outcome line — so no session's name can be taken for part of another's,
# and each kind fails and backs off on its own: a listing that fails never delays a renewal. An `aws login`
# profile's jobs have kinds of their own, so its name may be an SSO session's too.
RENEW, ACCOUNTS, PIN, EXPIRE, WARN, TICK = "renew", "accounts", "pin", "expire", "warn", "tick"
LOGIN_RENEW, LOGIN_EXPIRE, LOGIN_WARN = "login renew", "login expire", "login warn"
LOGIN_KINDS = (LOGIN_RENEW, LOGIN_EXPIRE, LOGIN_WARN)
MESSAGE = "message"  # (MESSAGE,): the outcome line leaves the menu


def of_session(name: str) -> Callable[[Hashable], bool]:
    """Chooses the keys of one SSO session's jobs (for Scheduler.cancel_where)."""
    return lambda key: len(key) > 1 and key[1] == name and key[0] not in LOGIN_KINDS


def of_login(name: str) -> Callable[[Hashable], bool]:
    """Chooses the keys of one `aws login` profile's jobs."""
    return lambda key: len(key) > 1 and key[1] == name and key[0] in LOGIN_KINDS


class Backoff:
    """Each job's failures in a row, and when it may be tried again: exponential, capped, with jitter."""

    def __init__(self, clock: Callable[[], datetime], base: float, cap: float):
        self.clock, self.base, self.cap = clock, base, cap
        self._entries: dict[Hashable, tuple[int, datetime]] = {}

    def failed(self, key: Hashable) -> int:
        """Count a failure of `key`'s job; returns how many in a row."""
        n = self._entries.get(key, (0, None))[0] + 1
        delay = min(self.cap, self.base * 2 ** min(n - 1, 16)) * random.uniform(0.8, 1.0)
        self._entries[key] = (n, self.clock() + timedelta(seconds=delay))
        return n

    def failing(self, key: Hashable) -> bool:
        return key in self._entries

    def succeeded(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def forget(self, chosen: Callable[[Hashable], bool]) -> None:
        for key in [k for k in self._entries if chosen(k)]:
            del self._entries[key]

    def clock_jumped(self) -> None:
        """The wall clock jumped (set back, or a sleep): times computed on the old clock mean nothing now,
        so every job may be tried again at once; the failures in a row are kept, and back off further."""
        now = self.clock()
        self._entries = {key: (n, now) for key, (n, _) in self._entries.items()}

    def due(self, key: Hashable, when: datetime) -> datetime:
        """When `key`'s job runs: `when`, or while it is failing, its next try (a failed hourly listing is
        tried again after its backoff, not an hour later)."""
        entry = self._entries.get(key)
        return when if entry is None else entry[1]


def file_signature(path) -> tuple | None:
    """What a file looks like without reading it: enough to notice an edit or a replacement."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

"""The tray's engine: holds what the tray knows in memory, runs actions off the UI thread, and
publishes a State snapshot after every change. No UI import: the tray, tests and the demo drive it.

Everything slow (sign-in, AWS calls, file writes) runs on a small worker pool; the scheduler fires
deadlines (warnings, silent renewal, pinned-profile rewrites, account refreshes, retries after a fault).
A failure never escapes: it becomes the session's problem (shown in the menu) and, where it matters,
a notification, and the engine retries with backoff.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Callable, Protocol

from tray.core import accounts, rolecreds
from tray.core.config import AwsConfig, SsoSession
from tray.core.credentials import RoleCredentials, utcnow
from tray.core.errors import NotSignedIn, TrayError
from tray.core.profiles import RoleProfile, merge
from tray.core.scheduler import Scheduler
from tray.core.sessions import VALID as STATUS_VALID, session_status
from tray.core.settings import Settings
from tray.core.state import (
    ERROR, EXPIRED, EXPIRING, EXPIRING_WITHIN, SIGNED_OUT, SIGNING_IN, VALID,
    AccountView, RoleView, SessionView, State, clock_time, describe_left,
)
from tray.core.tokens import Token
from tray.core.warnings import due_warning, next_warning_time

log = logging.getLogger(__name__)

ACCOUNT_REFRESH = timedelta(hours=1)
PIN_MARGIN = timedelta(minutes=10)  # rewrite pinned credentials this long before they expire
ASSUMED_LIFETIME = timedelta(hours=8)  # Identity Center's default, for the ring of a token read from disk
RECENT_MAX = 5
TICK = timedelta(minutes=1)


class Notifier(Protocol):
    available: bool

    def notify(self, title: str, body: str, actions: dict[str, str], on_action: Callable[[str], None]) -> None: ...


class NoNotifier:
    available = False

    def notify(self, title, body, actions, on_action) -> None:
        pass


@dataclass
class _Session:
    session: SsoSession
    token: Token | None = None
    status: str = SIGNED_OUT  # SIGNED_OUT, VALID or EXPIRED, from the cache file
    problem: str | None = None
    error: bool = False  # the last network action failed (icon: error) until one succeeds
    signing_in: threading.Event | None = None  # set to cancel
    discovery: accounts.Discovery | None = None
    refreshing: bool = False
    warned: set[int] = field(default_factory=set)
    warned_for: datetime | None = None  # the expiry the warnings above were given for
    lifetime: timedelta | None = None
    failures: int = 0
    account_views: tuple[AccountView, ...] = ()


class Engine:
    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = utcnow,
        scheduler: Scheduler | None = None,
        notifier: Notifier | None = None,
        copy: Callable[[str, float | None], None] | None = None,
        workers: int = 4,
        retry_base: float = 5.0,
        retry_cap: float = 300.0,
    ):
        self.clock = clock
        self.scheduler = scheduler or Scheduler(clock)
        self.notifier = notifier or NoNotifier()
        if copy is None:
            from tray.core.clipboard import copy_secret as copy
        self._copy = copy
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="action")
        self.retry_base, self.retry_cap = retry_base, retry_cap
        self._lock = threading.RLock()
        self._listeners: list[Callable[[State], None]] = []
        self.config: AwsConfig | None = None
        self.config_problem: str | None = None
        self.settings = Settings()
        self._sessions: dict[str, _Session] = {}
        self._roles: dict[str, RoleProfile] = {}
        self._creds: dict[str, RoleCredentials] = {}
        self._pending: set[Future] = set()
        self.message: str | None = None
        self.autostart = False
        self._state = State(now=clock())

    # --- publishing ---------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[State], None]) -> None:
        self._listeners.append(listener)

    @property
    def state(self) -> State:
        return self._state

    def _publish(self) -> None:
        with self._lock:
            self._state = self._snapshot()
            state = self._state
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:
                log.exception("a state listener failed")

    def _snapshot(self) -> State:
        now = self.clock()
        views = tuple(self._session_view(s, now) for s in self._sessions.values())
        s = self.settings
        return State(
            now=now,
            sessions=views,
            favourites=tuple(self._role_view(p) for p in s.favourites if p in self._roles),
            recent=tuple(self._role_view(p) for p in s.recent if p in self._roles and p not in s.favourites),
            pinned=frozenset(s.pinned),
            favourite_names=frozenset(s.favourites),
            default_format=s.default_format or _default_format(),
            warn_minutes=tuple(s.warn_minutes),
            clear_clipboard_after=s.clear_clipboard_after,
            notifications=s.notifications,
            autostart=self.autostart,
            problem=self.config_problem,
            message=self.message,
        )

    def _session_view(self, s: _Session, now: datetime) -> SessionView:
        expires = s.token.expires_at if s.token else None
        if s.signing_in is not None:
            kind = SIGNING_IN
        elif s.error:
            kind = ERROR
        elif s.status == VALID and expires and expires > now:
            kind = EXPIRING if expires - now <= EXPIRING_WITHIN and not self._renewable(s, now) else VALID
        elif expires is not None:
            kind = EXPIRED
        else:
            kind = SIGNED_OUT
        return SessionView(
            name=s.session.name,
            state=kind,
            expires_at=expires,
            lifetime=s.lifetime or (max(ASSUMED_LIFETIME, expires - now) if expires else None),
            problem=s.problem,
            accounts=s.account_views,
            refreshing=s.refreshing,
        )

    def _role_view(self, name: str) -> RoleView:
        p = self._roles[name]
        return RoleView(name, p.account_id, p.account_name or p.account_id, p.role_name, p.session.name)

    def _rebuild_roles(self) -> None:
        """Profiles and the menu's account tree, recomputed only when config or discoveries change."""
        if self.config is None:
            self._roles = {}
            return
        discoveries = {n: s.discovery for n, s in self._sessions.items() if s.discovery is not None}
        merged = merge(self.config, discoveries)
        self._roles = {p.name: p for p in merged}
        by_session: dict[str, dict[str, list[RoleView]]] = {}
        names: dict[tuple[str, str], str] = {}
        for p in merged:
            view = RoleView(p.name, p.account_id, p.account_name or p.account_id, p.role_name, p.session.name)
            by_session.setdefault(p.session.name, {}).setdefault(p.account_id, []).append(view)
            if p.account_name:
                names[(p.session.name, p.account_id)] = p.account_name
        for name, s in self._sessions.items():
            accts = by_session.get(name, {})
            s.account_views = tuple(
                sorted(
                    (AccountView(aid, names.get((name, aid), aid), tuple(sorted(roles, key=lambda r: r.role_name.lower())))
                     for aid, roles in accts.items()),
                    key=lambda a: (a.name.lower(), a.account_id),
                )
            )

    # --- loading ------------------------------------------------------------------------------

    def start(self) -> None:
        """Load config, settings, tokens and caches (disk only), publish, then start the timer."""
        self.load()
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.stop()
        for s in self._sessions.values():
            if s.signing_in is not None:
                s.signing_in.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def load(self) -> None:
        with self._lock:
            try:
                self.settings = Settings.load()
                settings_problem = None
            except TrayError as e:
                settings_problem = str(e)
            try:
                self.config = AwsConfig.load()
                self.config_problem = settings_problem
            except TrayError as e:
                self.config, self.config_problem = None, str(e)
            old = self._sessions
            self._sessions = {}
            for name, session in (self.config.sessions.items() if self.config else ()):
                s = old.get(name) or _Session(session)
                s.session = session
                s.discovery = s.discovery or accounts.read_cache(session)
                self._sessions[name] = s
                self._read_token(s)
            self._rebuild_roles()
        for name in list(self._sessions):
            self._schedule_session(name)
        self._schedule_tick()
        self._publish()

    def _read_token(self, s: _Session, renew_due: bool = False) -> None:
        status, token = session_status(s.session, self.clock(), renew_due=renew_due)
        if status.state == STATUS_VALID:
            s.token = token
        elif status.expires_at is not None:
            s.token = Token(s.session.start_url, s.session.region, "", status.expires_at)
        else:
            s.token = None
        s.status = VALID if status.state == STATUS_VALID else (EXPIRED if status.expires_at else SIGNED_OUT)
        if status.problem:
            s.problem = status.problem

    # --- scheduling ---------------------------------------------------------------------------

    def _renewable(self, s: _Session, now: datetime) -> bool:
        return bool(s.token and s.token.refreshable and s.token.registration_valid(now))

    def _schedule_session(self, name: str) -> None:
        s = self._sessions.get(name)
        if s is None:
            return
        now = self.clock()
        sched = self.scheduler
        sched.cancel_prefix(f"session:{name}:")
        if s.status != VALID or s.token is None:
            return
        expires = s.token.expires_at
        if s.warned_for != expires:
            s.warned, s.warned_for = set(), expires
        sched.schedule(f"session:{name}:expire", expires, lambda: self._on_expiry(name))
        warn_at = next_warning_time(expires, self.settings.warn_minutes, now, s.warned)
        if warn_at is not None:
            sched.schedule(f"session:{name}:warn", warn_at, lambda: self._on_warning(name))
        if self._renewable(s, now):
            # renew before the first warning would be due, so that a renewable session never warns
            lead = timedelta(minutes=max(self.settings.warn_minutes, default=15) + 1)
            if s.lifetime:
                lead = min(lead, s.lifetime / 2)
            sched.schedule(f"session:{name}:renew", max(now, expires - lead), lambda: self._submit(self._renew, name))
        if sched.deadline(f"retry:{name}") is None:  # after a fault, the retry's backoff decides
            due = now if s.discovery is None else max(now, s.discovery.fetched_at + ACCOUNT_REFRESH)
            sched.schedule(f"session:{name}:accounts", due, lambda: self.refresh_accounts(name))
        for profile in self.settings.pinned:
            p = self._roles.get(profile)
            if p is not None and p.session.name == name:
                creds = self._creds.get(profile)
                when = now if creds is None else creds.expiration - PIN_MARGIN
                sched.schedule(f"session:{name}:pin:{profile}", max(now, when), lambda prof=profile: self._submit(self._write_pinned, prof))

    def _schedule_tick(self) -> None:
        """Once a minute while a session is valid: the menu's "time left" text moves on."""
        if any(s.status == VALID for s in self._sessions.values()):
            self.scheduler.schedule("tick", self.clock() + TICK, self._tick)

    def _tick(self) -> None:
        self._publish()
        self._schedule_tick()

    def _retry_later(self, name: str, job: Callable[[], None]) -> None:
        """Try `job` again after a fault, with exponential backoff and jitter (one retry per session)."""
        s = self._sessions[name]
        s.failures += 1
        delay = min(self.retry_cap, self.retry_base * 2 ** min(s.failures - 1, 16)) * random.uniform(0.8, 1.0)
        self.scheduler.schedule(f"retry:{name}", self.clock() + timedelta(seconds=delay), job)

    def _on_expiry(self, name: str) -> None:
        s = self._sessions.get(name)
        if s is None:
            return
        with self._lock:
            self._read_token(s)
        self._schedule_session(name)
        self._publish()

    def _on_warning(self, name: str) -> None:
        s = self._sessions.get(name)
        if s is None or s.token is None or s.status != VALID:
            return
        now = self.clock()
        minutes = due_warning(s.token.expires_at, self.settings.warn_minutes, now, s.warned)
        if minutes is not None and self.settings.notifications:
            left = describe_left(s.token.expires_at - now)
            self.notifier.notify(
                f"AWS session {name} expires in {left}",
                f"Sign in again to keep your AWS credentials working after {clock_time(s.token.expires_at)}.",
                {"sign-in": "Sign in again"},
                lambda _action, n=name: self.sign_in(n),
            )
        self._schedule_session(name)
        self._publish()

    # --- actions (each returns a Future; failures become problems, never exceptions) ------------

    def _submit(self, fn, *args) -> Future:
        future = self._pool.submit(self._guard, fn, *args)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._pending.discard)
        return future

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until no action is running or queued (actions may start others). True if idle."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = list(self._pending)
            if not pending:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            wait(pending, timeout=left)

    def _guard(self, fn, *args):
        try:
            return fn(*args)
        except TrayError as e:
            self._fail(str(e))
        except Exception as e:  # a bug: keep running, say something useful
            log.exception("action %s failed", getattr(fn, "__name__", fn))
            self._fail(f"internal error ({type(e).__name__})")

    def _fail(self, message: str, notify: bool = True) -> None:
        with self._lock:
            self.message = message
        if notify and self.settings.notifications:
            self.notifier.notify("sso-tray", message, {}, lambda _a: None)
        self._publish()

    def _say(self, message: str) -> None:
        with self._lock:
            self.message = message
        self._publish()

    def sign_in(self, name: str) -> Future:
        return self._submit(self._sign_in, name)

    def _sign_in(self, name: str) -> None:
        from tray.core.signin import SignInOptions, login

        s = self._sessions[name]
        if s.signing_in is not None:
            return  # one sign-in per session: the one running goes on
        cancel = threading.Event()
        with self._lock:
            s.signing_in = cancel
            s.problem = None
        self._publish()
        try:
            token = login(s.session, SignInOptions(prompt=lambda m: None, cancel=cancel, clock=self.clock))
            with self._lock:
                s.token, s.status, s.error, s.failures = token, VALID, False, 0
                s.lifetime = token.expires_at - self.clock()
                self.message = f"Signed in to {name}."
        except TrayError as e:
            with self._lock:
                s.problem = str(e)
            raise
        finally:
            with self._lock:
                s.signing_in = None
            self._schedule_session(name)
            self._schedule_tick()
            self._publish()

    def cancel_sign_in(self, name: str) -> None:
        s = self._sessions.get(name)
        if s is not None and s.signing_in is not None:
            s.signing_in.set()

    def sign_out(self, name: str) -> Future:
        return self._submit(self._sign_out, name)

    def _sign_out(self, name: str) -> None:
        from tray.core.signin import logout

        s = self._sessions[name]
        logout(s.session)
        with self._lock:
            s.token, s.status, s.problem, s.error = None, SIGNED_OUT, None, False
            for profile in [p for p, r in self._roles.items() if r.session.name == name]:
                self._creds.pop(profile, None)
            self.message = f"Signed out of {name}."
        self._schedule_session(name)
        self._publish()

    def _renew(self, name: str) -> None:
        from tray.core.sessions import renew

        s = self._sessions[name]
        if s.token is None or not s.token.refreshable:
            return
        try:
            token = renew(s.session, s.token, self.clock())
        except NotSignedIn as e:  # the refresh token no longer works: the session ends at expiry
            with self._lock:
                s.token = replace(s.token, refresh_token=None)
                s.problem = f"cannot renew: {e}"
        except TrayError as e:
            with self._lock:
                s.problem, s.error = f"cannot renew: {e}", True
            self._retry_later(name, lambda: self._submit(self._renew, name))
        else:
            with self._lock:
                s.lifetime = token.expires_at - self.clock()
                s.token, s.problem, s.error, s.failures = token, None, False, 0
        self._schedule_session(name)
        self._publish()

    def refresh_accounts(self, name: str) -> Future:
        return self._submit(self._refresh_accounts, name)

    def _refresh_accounts(self, name: str) -> None:
        s = self._sessions[name]
        if s.status != VALID or s.token is None:
            return
        with self._lock:
            s.refreshing = True
        self._publish()
        try:
            discovery = accounts.discover(s.session, s.token)
        except NotSignedIn as e:
            with self._lock:
                s.problem = str(e)
                self._read_token(s)
        except TrayError as e:
            with self._lock:
                s.problem, s.error = str(e), True
            self._retry_later(name, lambda: self.refresh_accounts(name))
        else:
            with self._lock:
                s.discovery, s.problem, s.error, s.failures = discovery, None, False, 0
                self._rebuild_roles()
        finally:
            with self._lock:
                s.refreshing = False
            self._schedule_session(name)
            self._publish()

    def _credentials(self, profile: str, margin: timedelta = rolecreds.REUSE_MARGIN) -> tuple[RoleProfile, RoleCredentials]:
        """The profile's credentials, good for more than `margin`: from memory, the disk cache or AWS."""
        p = self._roles.get(profile)
        if p is None:
            raise TrayError(f"{profile} is no longer among the profiles")
        creds = self._creds.get(profile)
        now = self.clock()
        if creds is None or not rolecreds.fresh_enough(creds, now, margin):
            creds = rolecreds.get(p.session, p.account_id, p.role_name, now, margin)
            with self._lock:
                self._creds[profile] = creds
        return p, creds

    def _remember(self, profile: str) -> None:
        recent = [profile] + [r for r in self.settings.recent if r != profile]
        self.settings.recent = recent[:RECENT_MAX]
        self._save_settings()

    def copy_export(self, profile: str, fmt: str | None = None) -> Future:
        return self._submit(self._copy_export, profile, fmt)

    def _copy_export(self, profile: str, fmt: str | None) -> None:
        from tray.core.exports import format_credentials

        p, creds = self._credentials(profile)
        fmt = fmt or self.settings.default_format or _default_format()
        self._copy(format_credentials(creds, fmt, p.region), self.settings.clear_clipboard_after or None)
        self._remember(profile)
        self._say(f"Copied {fmt} export lines for {profile} (valid until {clock_time(creds.expiration)}).")

    def write_credentials(self, profile: str) -> Future:
        return self._submit(self._write_credentials, profile)

    def _write_credentials(self, profile: str, margin: timedelta = rolecreds.REUSE_MARGIN) -> None:
        from tray.core.credfile import credential_values, write_profile
        from tray.core.paths import credentials_file

        p, creds = self._credentials(profile, margin)
        write_profile(credentials_file(), profile, credential_values(creds, p.region))
        self._remember(profile)
        self._say(f"Wrote [{profile}] to {credentials_file()} (valid until {clock_time(creds.expiration)}).")

    def _write_pinned(self, profile: str) -> None:
        p = self._roles.get(profile)
        if p is None or profile not in self.settings.pinned:
            return
        s = self._sessions[p.session.name]
        try:
            # fresh credentials, not ones that are about to reach this same deadline again
            self._write_credentials(profile, PIN_MARGIN + timedelta(minutes=1))
        except TrayError as e:
            title = f"{profile} can no longer be kept fresh"
            if self.settings.notifications:
                self.notifier.notify(title, str(e), {"sign-in": "Sign in again"}, lambda _a, n=s.session.name: self.sign_in(n))
            self._say(f"{title}: {e}")
        finally:
            self._schedule_session(s.session.name)

    def toggle_pinned(self, profile: str) -> Future:
        def toggle():
            pinned = self.settings.pinned
            if profile in pinned:
                pinned.remove(profile)
                self._save_settings()
                self._publish()
            else:
                pinned.append(profile)
                self._save_settings()
                self._write_pinned(profile)
        return self._submit(toggle)

    def toggle_favourite(self, profile: str) -> Future:
        def toggle():
            favs = self.settings.favourites
            favs.remove(profile) if profile in favs else favs.append(profile)
            self._save_settings()
            self._publish()
        return self._submit(toggle)

    def update_settings(self, **changes) -> Future:
        def update():
            for key, value in changes.items():
                setattr(self.settings, key, value)
            self._save_settings()
            for name in list(self._sessions):
                self._schedule_session(name)
            self._publish()
        return self._submit(update)

    def _save_settings(self) -> None:
        with self._lock:
            self.settings.save()

    def reload(self) -> Future:
        return self._submit(self.load)


def _default_format() -> str:
    from tray.core.exports import default_format

    return default_format()


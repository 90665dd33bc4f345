"""The tray's engine: the one owner of what the tray knows, applying every event in order.

One thread (the engine thread) holds the session records and is the only one that changes them. Menu
clicks, timers, the file watcher and finished work all arrive as events on its queue and are applied one
at a time; after each, a fresh State snapshot is published. Slow work (sign-in, AWS calls, the clipboard,
file writes) runs on a small worker pool and posts its outcome back as an event, so no session is ever
seen or left half-updated.

What a session shows is derived from the files plus what the engine itself is doing: the token cache file
is read again whenever it changes (another `sso-tray login`, `aws sso login`, a renewal elsewhere, a
sign-out in a terminal), the AWS config and the settings likewise; the engine adds only what no file says
(a sign-in under way, a fault being retried, a refresh token that was refused).

Every second the engine thread looks at the files (cheap: a stat of the config and settings, the token
files' bytes) and at the wall clock against the monotonic one: a jump (the laptop slept, the clock was
set) makes it look at every session afresh, so renewable sessions are renewed, a missed warning gives
one notification and pinned profiles are rewritten.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Protocol

from tray.core.identity import accounts, rolecreds
from tray.core.identity.config import AwsConfig, SsoSession
from tray.core.credentials import RoleCredentials, utcnow
from tray.core.errors import NotSignedIn, TrayError
from tray.core.identity.profiles import RoleProfile, merge
from tray.core.engine.scheduler import Scheduler
from tray.core.identity.sessions import EXPIRED as STATUS_EXPIRED, SIGNED_OUT as STATUS_SIGNED_OUT, VALID as STATUS_VALID
from tray.core.files.settings import Settings, settings_path
from tray.core.engine.state import (
    ERROR, EXPIRED, EXPIRING, EXPIRING_WITHIN, SIGNED_OUT, SIGNING_IN, VALID,
    AccountView, RoleView, SessionView, State, clock_time, describe_left,
)
from tray.core.identity.tokens import CorruptTokenCache, Token, read_token
from tray.core.engine.warnings import due_warning, next_warning_time

log = logging.getLogger(__name__)

ACCOUNT_REFRESH = timedelta(hours=1)
PIN_MARGIN = timedelta(minutes=20)  # rewrite pinned credentials this long before they expire
ASSUMED_LIFETIME = timedelta(hours=8)  # Identity Center's default, for the ring of a token read from disk
RECENT_MAX = 5
TICK = timedelta(minutes=1)
WATCH_INTERVAL = 1.0  # seconds between looks at the files (SPEC §7: changes shown within 5 s)
CLOCK_JUMP = 30.0  # seconds the wall clock may drift from the monotonic one before it counts as a sleep


class Notifier(Protocol):
    available: bool

    def notify(self, title: str, body: str, actions: dict[str, str], on_action: Callable[[str], None]) -> None: ...


class NoNotifier:
    available = False

    def notify(self, title, body, actions, on_action) -> None:
        pass


@dataclass
class _Session:
    """One session's record; only the engine thread reads or writes it."""

    session: SsoSession
    token: Token | None = None  # the token cache file as last read (None: no file, or unusable)
    seen: bytes | None = None  # the file's bytes when last read, to notice any change
    read_problem: str | None = None  # why the file is unusable
    problem: str | None = None  # what the engine's last action for it ran into
    error: bool = False  # the last network action failed (icon: error) until one succeeds
    signing_in: threading.Event | None = None  # set to cancel
    sign_in_done: Future | None = None  # resolves when the sign-in under way ends
    renewing: Future | None = None  # resolves when the renewal under way ends
    refused: str | None = None  # the access token whose refresh token the server refused
    discovery: accounts.Discovery | None = None
    refreshing: Future | None = None  # resolves when the account listing under way ends
    warned: set[int] = field(default_factory=set)
    warned_for: datetime | None = None  # the expiry the warnings above were given for
    lifetime: timedelta | None = None  # known when this tray signed in or renewed
    failures: int = 0
    account_views: tuple[AccountView, ...] = ()

    def status(self, now: datetime) -> str:
        """What the file says: what `sso-tray status` computes from disk (before any renewal)."""
        if self.token is None:
            return STATUS_SIGNED_OUT
        return STATUS_VALID if self.token.is_valid(now) else STATUS_EXPIRED


_STOP = object()


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
        watch_interval: float | None = WATCH_INTERVAL,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.clock = clock
        self.monotonic = monotonic
        self.scheduler = scheduler or Scheduler(clock)
        self.notifier = notifier or NoNotifier()
        if copy is None:
            from tray.core.outlets.clipboard import copy_secret as copy
        self._copy = copy
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="action")
        self.retry_base, self.retry_cap = retry_base, retry_cap
        self.watch_interval = watch_interval
        self._listeners: list[Callable[[State], None]] = []
        self.config: AwsConfig | None = None
        self.config_problem: str | None = None
        self.settings = Settings()
        self.settings_problem: str | None = None
        self._sessions: dict[str, _Session] = {}
        self._roles: dict[str, RoleProfile] = {}
        self._creds: dict[str, RoleCredentials] = {}
        self._pin_failures: dict[str, int] = {}
        self._pin_retry: dict[str, datetime] = {}  # a pinned profile whose rewrite failed: not before then
        self._files: dict[str, object] = {}  # config and settings: what they looked like when read
        self._last_clock: tuple[datetime, float] | None = None
        self.message: str | None = None  # the last action's outcome, shown in the menu and on the finder page
        self.message_failed = False
        self.autostart = False
        self._state = State(now=clock())
        self._shown: State | None = None
        # the queue and its bookkeeping: `_busy` counts events queued or running and work under way
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self._busy = 0
        self._idle = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="engine", daemon=True)
        self._thread.start()

    # --- the event loop -----------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            try:
                item = self._events.get(timeout=self.watch_interval)
            except queue.Empty:
                if not self._stopped:
                    self._apply(Future(), self._check, ())
                continue
            if item is _STOP:
                self._drain()
                return
            self._apply(*item)
            self._done_one()

    def _apply(self, done: Future, fn, args) -> None:
        try:
            result = fn(*args)
        except TrayError as e:
            self._fail(str(e))
            result = None
        except Exception as e:  # a bug: keep running, say something useful
            log.exception("event %s failed", getattr(fn, "__name__", fn))
            self._fail(f"internal error ({type(e).__name__})")
            result = None
        self._publish()
        if isinstance(result, Future):  # the event started work: done when the work's outcome is applied
            result.add_done_callback(lambda f: _settle(done, f))
        else:
            _settle_value(done, result)

    def _drain(self) -> None:
        """After stop(): what is still queued is not applied, but its futures resolve and it is counted off."""
        while True:
            try:
                item = self._events.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                _settle_value(item[0], None)
                self._done_one()

    def _post(self, fn, *args) -> Future:
        """Apply `fn(*args)` on the engine thread, after every event posted before it."""
        done: Future = Future()
        if self._stopped:
            done.set_result(None)
            return done
        with self._idle:
            self._busy += 1
        self._events.put((done, fn, args))
        return done

    def _done_one(self) -> None:
        with self._idle:
            self._busy -= 1
            if self._busy == 0:
                self._idle.notify_all()

    def _work(self, work: Callable[[], object], then: Callable[[object, BaseException | None], object]) -> Future:
        """Run `work()` on a worker; its outcome comes back as the event `then(result, error)`.
        The future resolves once that event has been applied."""
        done: Future = Future()
        with self._idle:
            self._busy += 1

        def run():
            try:
                outcome = (work(), None)
            except BaseException as e:  # noqa: BLE001 - handed to `then`, which decides
                outcome = (None, e)
            if self._stopped:
                _settle_value(done, None)
            else:
                with self._idle:
                    self._busy += 1
                self._events.put((done, then, outcome))
            self._done_one()

        def cancelled(f) -> None:  # stop() dropped it before it ran
            if f.cancelled():
                _settle_value(done, None)
                self._done_one()

        try:
            self._pool.submit(run).add_done_callback(cancelled)
        except RuntimeError:  # stopping: the pool takes no more work
            self._done_one()
            done.set_result(None)
        return done

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until no event is queued or running and no work is under way. True if idle."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    # --- publishing ---------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[State], None]) -> None:
        self._listeners.append(listener)

    @property
    def state(self) -> State:
        return self._state

    def _publish(self, force: bool = False) -> None:
        state = self._snapshot()
        self._state = state
        if not force and self._shown is not None and _same(self._shown, state):
            return
        self._shown = state
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
            problem=self.config_problem or self.settings_problem,
            message=self.message,
            message_failed=self.message_failed,
        )

    def _session_view(self, s: _Session, now: datetime) -> SessionView:
        status = s.status(now)
        expires = s.token.expires_at if s.token else None
        if s.signing_in is not None:
            kind = SIGNING_IN
        elif s.error:
            kind = ERROR
        elif status == STATUS_VALID:
            kind = EXPIRING if expires - now <= EXPIRING_WITHIN and not self._renewable(s, now) else VALID
        elif status == STATUS_EXPIRED:
            kind = EXPIRED
        else:
            kind = SIGNED_OUT
        return SessionView(
            name=s.session.name,
            state=kind,
            status=status,
            expires_at=expires,
            lifetime=s.lifetime or (max(ASSUMED_LIFETIME, expires - now) if expires else None),
            problem=s.problem or s.read_problem,
            accounts=s.account_views,
            refreshing=s.refreshing is not None,
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

    # --- loading and following the files ------------------------------------------------------

    def start(self) -> None:
        """Load config, settings, tokens and caches (disk only), publish, then start the timer."""
        self.load()
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.stop()
        if threading.current_thread() is not self._thread:
            try:
                self._post(self._cancel_all).result(timeout=5)
            except FutureTimeout:  # the engine thread is stuck: Quit still quits
                log.error("the engine did not answer within 5 s; quitting without cancelling sign-ins")
        self._stopped = True
        self._events.put(_STOP)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _cancel_all(self) -> None:
        for s in self._sessions.values():
            if s.signing_in is not None:
                s.signing_in.set()

    def load(self, timeout: float = 60.0) -> None:
        """Read everything from disk now (and wait for it)."""
        self._post(self._load).result(timeout=timeout)

    def reload(self) -> Future:
        return self._post(self._load)

    def check(self) -> Future:
        """Look at the files and the clock now (the engine also does this every second by itself)."""
        return self._post(self._check)

    def _load(self) -> None:
        self._load_settings()
        self._load_config()
        for s in self._sessions.values():
            self._read_token(s)
        self._rebuild_roles()
        self._reschedule_all()

    def _load_settings(self) -> None:
        self._files["settings"] = _signature(settings_path())
        try:
            self.settings = Settings.load()
            self.settings_problem = None
        except TrayError as e:  # keep what is in memory; the file is kept until the person changes a setting
            self.settings_problem = str(e)

    def _load_config(self) -> None:
        from tray.core.files import paths

        path = paths.aws_config_file()
        self._files["config"] = _signature(path)
        try:
            self.config = AwsConfig.load()
            self.config_problem = None
        except TrayError as e:
            self.config_problem = str(e)
            if self.config is not None and path.is_file():
                # a typo while the file is edited: keep the sessions the last good config had (their
                # warnings given, sign-ins under way) and show the problem until it parses again
                return
            self.config = None
        old = self._sessions
        self._sessions = {}
        for name, session in (self.config.sessions.items() if self.config else ()):
            s = old.get(name)
            if s is None or s.session != session:
                s = _Session(session, discovery=accounts.read_cache(session))
            self._sessions[name] = s
        for name, s in old.items():
            if self._sessions.get(name) is not s:
                self.scheduler.cancel_prefix(f"session:{name}:")
                self.scheduler.cancel(f"retry:{name}")
                if s.signing_in is not None:
                    s.signing_in.set()

    def _read_token(self, s: _Session) -> None:
        """Derive the session's token from its cache file (the file is the truth)."""
        path = s.session.token_cache_path
        try:
            s.seen = path.read_bytes()
        except OSError:
            s.seen = None
        try:
            token = read_token(s.session)
            s.read_problem = None
        except CorruptTokenCache as e:
            token, s.read_problem = None, str(e)
        if (token is None) != (s.token is None) or (token and s.token and token.access_token != s.token.access_token):
            # another token (signed in, renewed or signed out here or elsewhere): what was known of the
            # old one no longer applies
            s.problem, s.error, s.failures, s.lifetime = None, False, 0, None
            self.scheduler.cancel(f"retry:{s.session.name}")
            if token is None:
                for profile in self._profiles_of(s.session.name):
                    self._creds.pop(profile, None)
        s.token = token

    def _check(self) -> None:
        """The files and the clock: what changed since the last look is applied now."""
        from tray.core.files import paths

        now, mono = self.clock(), self.monotonic()
        jumped = False
        if self._last_clock is not None:
            wall_moved = (now - self._last_clock[0]).total_seconds()
            jumped = abs(wall_moved - (mono - self._last_clock[1])) > CLOCK_JUMP
        self._last_clock = (now, mono)
        changed = False
        if _signature(settings_path()) != self._files.get("settings"):
            self._load_settings()
            changed = True
        if _signature(paths.aws_config_file()) != self._files.get("config"):
            self._load_config()
            for s in self._sessions.values():
                self._read_token(s)
            self._rebuild_roles()
            changed = True
        for s in self._sessions.values():
            try:
                current = s.session.token_cache_path.read_bytes()
            except OSError:
                current = None
            if current != s.seen:
                self._read_token(s)
                changed = True
        if changed or jumped:
            if jumped:
                log.info("the clock moved by more than %s s against the monotonic clock: looking afresh", CLOCK_JUMP)
            self._reschedule_all()

    def _profiles_of(self, name: str) -> list[str]:
        return [p for p, r in self._roles.items() if r.session.name == name]

    # --- scheduling ---------------------------------------------------------------------------

    def _renewable(self, s: _Session, now: datetime) -> bool:
        t = s.token
        return bool(t and t.refreshable and t.registration_valid(now) and t.access_token != s.refused)

    def _reschedule_all(self) -> None:
        for name in list(self._sessions):
            self._schedule_session(name)
        self._schedule_tick()

    def _schedule_session(self, name: str) -> None:
        s = self._sessions.get(name)
        if s is None:
            return
        now = self.clock()
        sched = self.scheduler
        sched.cancel_prefix(f"session:{name}:")
        t = s.token
        if t is None:
            return  # signed out: the file watcher notices a sign-in made elsewhere
        valid = t.is_valid(now)
        # renew before the first warning would be due, so that a renewable session never warns; renewable
        # means at that time (the client registration may lapse before it)
        renew_at = max(now, t.expires_at - self._renew_lead(s))
        renewable = self._renewable(s, renew_at)
        if valid:
            sched.schedule(f"session:{name}:expire", t.expires_at, lambda: self._post(self._on_expiry, name))
        if renewable and s.renewing is None and sched.deadline(f"retry:{name}") is None:
            sched.schedule(f"session:{name}:renew", renew_at, lambda: self._post(self._renew, name))
        if not valid:
            return
        if s.warned_for != t.expires_at:
            s.warned, s.warned_for = set(), t.expires_at
        if not renewable or s.error:  # warn only where no renewal is going to save the session
            warn_at = next_warning_time(t.expires_at, self.settings.warn_minutes, now, s.warned)
            if warn_at is not None:
                sched.schedule(f"session:{name}:warn", warn_at, lambda: self._post(self._on_warning, name))
        if sched.deadline(f"retry:{name}") is None and s.refreshing is None:  # after a fault, the retry decides
            due = now if s.discovery is None else max(now, s.discovery.fetched_at + ACCOUNT_REFRESH)
            sched.schedule(f"session:{name}:accounts", due, lambda: self._post(self._refresh_accounts, name))
        for profile in self.settings.pinned:
            p = self._roles.get(profile)
            if p is not None and p.session.name == name:
                creds = self._creds.get(profile)
                when = now if creds is None else creds.expiration - PIN_MARGIN
                when = max(now, when, self._pin_retry.get(profile, now))
                sched.schedule(f"session:{name}:pin:{profile}", when, lambda prof=profile: self._post(self._write_pinned, prof))

    def _renew_lead(self, s: _Session) -> timedelta:
        lead = timedelta(minutes=max(self.settings.warn_minutes, default=15) + 1)
        return min(lead, s.lifetime / 2) if s.lifetime else lead

    def _schedule_tick(self) -> None:
        """Once a minute while a session is valid: the menu's "time left" text moves on."""
        now = self.clock()
        if any(s.status(now) == STATUS_VALID for s in self._sessions.values()):
            self.scheduler.schedule("tick", now + TICK, lambda: self._post(self._tick))
        else:
            self.scheduler.cancel("tick")

    def _tick(self) -> None:
        self._schedule_tick()
        self._publish(force=True)

    def _retry_later(self, name: str, job: Callable[[], None]) -> None:
        """Try `job` again after a fault, with exponential backoff and jitter (one retry per session)."""
        s = self._sessions[name]
        s.failures += 1
        delay = min(self.retry_cap, self.retry_base * 2 ** min(s.failures - 1, 16)) * random.uniform(0.8, 1.0)
        self.scheduler.schedule(f"retry:{name}", self.clock() + timedelta(seconds=delay), lambda: self._post(job))

    def _on_expiry(self, name: str) -> None:
        s = self._sessions.get(name)
        if s is None:
            return
        self._read_token(s)
        self._schedule_session(name)
        self._schedule_tick()

    def _on_warning(self, name: str) -> None:
        s = self._sessions.get(name)
        if s is None or s.token is None:
            return
        now = self.clock()
        if s.token.is_valid(now) and s.warned_for == s.token.expires_at:
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

    # --- actions (each returns a Future; failures become problems, never exceptions) ------------

    def _tell(self, message: str, failed: bool = False) -> None:
        self.message, self.message_failed = message, failed

    def _fail(self, message: str, notify: bool = True) -> None:
        self._tell(message, failed=True)
        if notify and self.settings.notifications:
            self.notifier.notify("sso-tray", message, {}, lambda _a: None)

    def _say(self, message: str) -> Future:
        def say():
            self._tell(message)
        return self._post(say)

    def _submit(self, fn, *args) -> Future:
        """Run `fn(*args)` on a worker (for work that needs no session record, e.g. Start at login)."""
        def then(_result, error):
            if error is not None:
                raise error
        return self._work(lambda: fn(*args), then)

    def _session(self, name: str) -> _Session:
        s = self._sessions.get(name)
        if s is None:
            raise TrayError(f"there is no SSO session named {name} in the AWS config any more")
        return s

    def sign_in(self, name: str) -> Future:
        return self._post(self._sign_in, name)

    def _sign_in(self, name: str):
        from tray.core.identity.signin import SignInOptions, login

        s = self._session(name)
        if s.signing_in is not None:
            return s.sign_in_done  # one sign-in per session: the one running goes on
        cancel = threading.Event()
        s.signing_in, s.problem = cancel, None
        session, clock = s.session, self.clock

        def work():
            started = clock()
            token = login(session, SignInOptions(prompt=lambda m: None, cancel=cancel, clock=clock))
            return token.expires_at - started

        s.sign_in_done = self._work(work, lambda lifetime, error: self._signed_in(name, cancel, lifetime, error))
        return s.sign_in_done

    def _signed_in(self, name: str, cancel: threading.Event, lifetime, error) -> None:
        s = self._sessions.get(name)
        if s is None or s.signing_in is not cancel:
            return
        s.signing_in = s.sign_in_done = None
        self._read_token(s)
        self._schedule_session(name)
        self._schedule_tick()
        if error is not None and cancel.is_set():  # the person's own Cancel: no problem, no notification
            self._tell(f"The sign-in to {name} was cancelled.")
            return
        if error is not None:
            s.problem = _reason(error)
            _raise(error)
        s.lifetime, s.error, s.failures, s.refused = lifetime, False, 0, None
        self._tell(f"Signed in to {name}.")

    def cancel_sign_in(self, name: str) -> None:
        def cancel():
            s = self._sessions.get(name)
            if s is not None and s.signing_in is not None:
                s.signing_in.set()
        self._post(cancel)

    def sign_out(self, name: str) -> Future:
        return self._post(self._sign_out, name)

    def _sign_out(self, name: str) -> Future:
        from tray.core.identity.signin import logout

        s = self._session(name)
        session = s.session
        if s.signing_in is not None:  # a sign-in under way holds the token file's lock: it ends first
            s.signing_in.set()

        def signed_out(_result, error):
            s = self._sessions.get(name)
            if s is not None:
                self._read_token(s)
                for profile in self._profiles_of(name):
                    self._creds.pop(profile, None)
                self._schedule_session(name)
                self._schedule_tick()
            _raise(error)
            self._tell(f"Signed out of {name}.")

        return self._work(lambda: logout(session), signed_out)

    def _renew(self, name: str):
        from tray.core.identity.sessions import renew

        s = self._sessions.get(name)
        if s is None or s.renewing is not None:
            return s and s.renewing  # one renewal at a time: the one running goes on
        if not self._renewable(s, self.clock()):
            self._schedule_session(name)  # the warnings take over
            return None
        session, tried, window = s.session, s.token, self._renew_lead(s)
        self.scheduler.cancel(f"retry:{name}")

        def renewed(_token, error) -> None:
            s = self._sessions.get(name)
            if s is None or s.session != session:
                return
            s.renewing = None
            self._read_token(s)
            if isinstance(error, NotSignedIn):  # the refresh token no longer works: the session ends at expiry
                if s.token is not None and s.token.access_token == tried.access_token:
                    s.refused = tried.access_token
                s.problem, s.error = f"cannot renew: {error}", False
            elif error is not None:
                s.problem, s.error = f"cannot renew: {_reason(error)}", True
                self._retry_later(name, lambda: self._renew(name))
            elif s.token is not None and s.token.expires_at <= tried.expires_at:
                # Identity Center ends a sign-in at its session duration: a renewal then gives no more time,
                # so no more renewals; the warnings say when to sign in again
                s.refused = s.token.access_token
            elif s.token is not None:
                # at least this long: it sets how early the next renewal starts (half of it at most)
                s.lifetime = s.token.expires_at - self.clock()
            self._schedule_session(name)
            self._schedule_tick()

        s.renewing = self._work(lambda: renew(session, self.clock(), window), renewed)
        return s.renewing

    def refresh_accounts(self, name: str) -> Future:
        return self._post(self._refresh_accounts, name)

    def _refresh_accounts(self, name: str):
        s = self._sessions.get(name)
        if s is not None and s.refreshing is not None:
            return s.refreshing  # one listing at a time: the one running goes on
        if s is None or s.token is None or not s.token.is_valid(self.clock()):
            return None
        session, token = s.session, s.token
        self.scheduler.cancel(f"session:{name}:accounts")

        def listed(discovery, error) -> None:
            s = self._sessions.get(name)
            if s is None or s.session != session:
                return
            s.refreshing = None
            if isinstance(error, NotSignedIn):  # the portal rejects a token the file says is valid
                self._read_token(s)
                s.problem = str(error)
                if s.token is not None and s.token.access_token == token.access_token:
                    self._retry_later(name, lambda: self._refresh_accounts(name))  # not again at once
            elif error is not None:
                s.problem, s.error = _reason(error), True
                self._retry_later(name, lambda: self._refresh_accounts(name))
            else:
                s.discovery, s.problem, s.error, s.failures = discovery, None, False, 0
                self._rebuild_roles()
            self._schedule_session(name)

        s.refreshing = self._work(lambda: accounts.discover(session, token, clock=self.clock), listed)
        return s.refreshing

    def _with_credentials(self, profile: str, margin: timedelta, use: Callable[[RoleProfile, RoleCredentials], str],
                          on_error: Callable[[BaseException], None] | None = None, on_done: Callable[[], None] | None = None) -> Future:
        """Credentials for `profile` good for more than `margin` (memory, the disk cache or AWS), handed
        to `use` on a worker; `use` returns the message to show. `on_error` takes a failure instead of
        the usual message and notification."""
        p = self._roles.get(profile)
        if p is None:
            raise TrayError(f"{profile} is no longer among the profiles")
        held = self._creds.get(profile)
        clock = self.clock

        def work():
            creds = held
            if creds is None or not rolecreds.fresh_enough(creds, clock(), margin):
                creds = rolecreds.get(p.session, p.account_id, p.role_name, clock(), margin)
            return creds, use(p, creds)

        def then(outcome, error):
            if error is not None and on_error is not None:
                return on_error(error)
            _raise(error)
            creds, message = outcome
            self._creds[profile] = creds
            self._remember(profile)
            self._tell(message)
            if on_done is not None:
                on_done()

        return self._work(work, then)

    def _remember(self, profile: str) -> None:
        self.settings.recent = ([profile] + [r for r in self.settings.recent if r != profile])[:RECENT_MAX]
        if self.settings_problem is None:  # a malformed settings file is replaced only when the person says so
            self._save_settings()

    def copy_export(self, profile: str, fmt: str | None = None) -> Future:
        return self._post(self._copy_export, profile, fmt)

    def _copy_export(self, profile: str, fmt: str | None):
        from tray.core.outlets.exports import format_credentials

        fmt = fmt or self.settings.default_format or _default_format()
        clear_after = self.settings.clear_clipboard_after or None

        def copy(p, creds):
            self._copy(format_credentials(creds, fmt, p.region), clear_after)
            return f"Copied {fmt} export lines for {profile} (valid until {clock_time(creds.expiration)})."

        return self._with_credentials(profile, rolecreds.REUSE_MARGIN, copy)

    def write_credentials(self, profile: str) -> Future:
        return self._post(self._write_credentials, profile)

    def _write_credentials(self, profile: str, margin: timedelta = rolecreds.REUSE_MARGIN, **hooks):
        from tray.core.files.credfile import credential_values, write_profile
        from tray.core.files.paths import credentials_file

        def write(p, creds):
            write_profile(credentials_file(), profile, credential_values(creds, p.region))
            return f"Wrote [{profile}] to {credentials_file()} (valid until {clock_time(creds.expiration)})."

        return self._with_credentials(profile, margin, write, **hooks)

    def open_console(self, profile: str) -> Future:
        return self._post(self._open_console, profile)

    def _open_console(self, profile: str):
        def open_it(p, creds):
            from tray.core.outlets import console

            console.open_url(console.console_url(p, creds))
            return f"Opened the AWS console as {profile}."

        return self._with_credentials(profile, rolecreds.REUSE_MARGIN, open_it)

    def _write_pinned(self, profile: str):
        p = self._roles.get(profile)
        if p is None or profile not in self.settings.pinned:
            return None
        name = p.session.name

        def failed(error: BaseException) -> None:
            if not isinstance(error, TrayError):
                raise error
            # tried again with backoff, and said once, not at every try
            n = self._pin_failures[profile] = self._pin_failures.get(profile, 0) + 1
            delay = min(self.retry_cap, self.retry_base * 2 ** min(n - 1, 16))
            self._pin_retry[profile] = self.clock() + timedelta(seconds=delay)
            if n == 1:
                title = f"{profile} can no longer be kept fresh"
                if self.settings.notifications:
                    self.notifier.notify(title, str(error), {"sign-in": "Sign in again"}, lambda _a: self.sign_in(name))
                self._tell(f"{title}: {error}", failed=True)
            self._schedule_session(name)

        def written() -> None:
            self._pin_failures.pop(profile, None)
            self._pin_retry.pop(profile, None)
            self._schedule_session(name)

        # fresh credentials, not ones that are about to reach this same deadline again
        return self._write_credentials(profile, PIN_MARGIN + timedelta(minutes=1), on_error=failed, on_done=written)

    def toggle_pinned(self, profile: str) -> Future:
        def toggle():
            pinned = self.settings.pinned
            if profile in pinned:
                pinned.remove(profile)
                self._save_settings()
                return None
            pinned.append(profile)
            self._save_settings()
            return self._write_pinned(profile)
        return self._post(toggle)

    def toggle_favourite(self, profile: str) -> Future:
        def toggle():
            favs = self.settings.favourites
            favs.remove(profile) if profile in favs else favs.append(profile)
            self._save_settings()
        return self._post(toggle)

    def update_settings(self, **changes) -> Future:
        def update():
            for key, value in changes.items():
                setattr(self.settings, key, value)
            self._save_settings()
            self._reschedule_all()
        return self._post(update)

    def _save_settings(self) -> None:
        """The person changed a setting: save (a malformed file is kept beside it, by Settings.save)."""
        kept = self.settings.save()
        if kept is not None:
            self._tell(f"The settings file could not be read; it was kept as {kept}.")
        self.settings_problem = None
        self._files["settings"] = _signature(settings_path())


def _signature(path) -> tuple | None:
    """What a file looks like without reading it: enough to notice an edit or a replacement."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _same(a: State, b: State) -> bool:
    """The same picture, but for the time it was taken (the minute's tick republishes anyway)."""
    return a.__dict__ | {"now": None} == b.__dict__ | {"now": None}


def _settle(done: Future, inner: Future) -> None:
    if done.done():
        return
    if inner.exception() is not None:
        done.set_exception(inner.exception())
    else:
        done.set_result(inner.result())


def _settle_value(done: Future, value) -> None:
    if not done.done():
        if isinstance(value, BaseException):
            done.set_exception(value)
        else:
            done.set_result(value)


def _raise(error: BaseException | None) -> None:
    if error is not None:
        raise error


def _reason(error: BaseException) -> str:
    return str(error) if isinstance(error, TrayError) else f"internal error ({type(error).__name__})"


def _default_format() -> str:
    from tray.core.outlets.exports import default_format

    return default_format()

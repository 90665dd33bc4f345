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
import random
import threading
import time
from concurrent.futures import Future, TimeoutError as FutureTimeout
from datetime import datetime, timedelta
from typing import Callable, Protocol

from tray.core.credentials import RoleCredentials, utcnow
from tray.core.engine.actions import PIN_MARGIN, CredentialActions
from tray.core.engine.signins import SignIns
from tray.core.engine.loop import EventLoop, describe_error
from tray.core.engine.record import SessionRecord, file_signature
from tray.core.engine.scheduler import Scheduler
from tray.core.engine.state import State, clock_time, describe_left
from tray.core.engine.view import build_state, rebuild_roles, same
from tray.core.engine.warnings import due_warning, next_warning_time
from tray.core.errors import NotSignedIn, TrayError
from tray.core.files.settings import Settings, settings_path
from tray.core.identity import accounts
from tray.core.identity.config import AwsConfig
from tray.core.identity.profiles import RoleProfile
from tray.core.identity.sessions import VALID as STATUS_VALID
from tray.core.identity.tokens import CorruptTokenCache, read_token

log = logging.getLogger(__name__)

ACCOUNT_REFRESH = timedelta(hours=1)
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


class Engine(SignIns, CredentialActions):
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
        self.retry_base, self.retry_cap = retry_base, retry_cap
        self.watch_interval = watch_interval
        self._listeners: list[Callable[[State], None]] = []
        self.config: AwsConfig | None = None
        self.config_problem: str | None = None
        self.settings = Settings()
        self.settings_problem: str | None = None
        self._sessions: dict[str, SessionRecord] = {}
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
        self._loop = EventLoop(on_error=self._fail, after_event=self._publish, on_idle=self._check,
                               idle_interval=watch_interval, workers=workers)

    def _post(self, fn, *args) -> Future:
        """Apply `fn(*args)` on the engine thread, after every event posted before it."""
        return self._loop.post(fn, *args)

    def _work(self, work: Callable[[], object], then: Callable[[object, BaseException | None], object]) -> Future:
        """Run `work()` on a worker; its outcome comes back as the event `then(result, error)`."""
        return self._loop.work(work, then)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until no event is queued or running and no work is under way. True if idle."""
        return self._loop.wait_idle(timeout)

    # --- publishing ---------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[State], None]) -> None:
        self._listeners.append(listener)

    @property
    def state(self) -> State:
        return self._state

    def _publish(self, force: bool = False) -> None:
        state = self._snapshot()
        self._state = state
        if not force and self._shown is not None and same(self._shown, state):
            return
        self._shown = state
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:
                log.exception("a state listener failed")

    def _snapshot(self) -> State:
        return build_state(
            self.clock(), self._sessions, self._roles, self.settings,
            autostart=self.autostart,
            problem=self.config_problem or self.settings_problem,
            message=self.message,
            message_failed=self.message_failed,
        )

    def _rebuild_roles(self) -> None:
        """Profiles and the menu's account tree, recomputed only when config or discoveries change."""
        self._roles = rebuild_roles(self.config, self._sessions)

    # --- loading and following the files ------------------------------------------------------

    def start(self) -> None:
        """Load config, settings, tokens and caches (disk only), publish, then start the timer."""
        self.load()
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.stop()
        if threading.current_thread() is not self._loop.thread:
            try:
                self._post(self._cancel_all).result(timeout=5)
            except FutureTimeout:  # the engine thread is stuck: Quit still quits
                log.error("the engine did not answer within 5 s; quitting without cancelling sign-ins")
        self._loop.stop()

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
        self._files["settings"] = file_signature(settings_path())
        try:
            self.settings = Settings.load()
            self.settings_problem = None
        except TrayError as e:  # keep what is in memory; the file is kept until the person changes a setting
            self.settings_problem = str(e)

    def _load_config(self) -> None:
        from tray.core.files import paths

        path = paths.aws_config_file()
        self._files["config"] = file_signature(path)
        try:
            self.config = AwsConfig.load()
            # a profile that cannot be used fails alone now (its sessions work): the menu still says why
            self.config_problem = "; ".join(self.config.broken.values()) or None
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
                s = SessionRecord(session, discovery=accounts.read_cache(session))
            self._sessions[name] = s
        for name, s in old.items():
            if self._sessions.get(name) is not s:
                self.scheduler.cancel_prefix(f"session:{name}:")
                self.scheduler.cancel(f"retry:{name}")
                if s.signing_in is not None:
                    s.signing_in.set()

    def _read_token(self, s: SessionRecord) -> None:
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
        if file_signature(settings_path()) != self._files.get("settings"):
            self._load_settings()
            changed = True
        if file_signature(paths.aws_config_file()) != self._files.get("config"):
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

    def _renewable(self, s: SessionRecord, now: datetime) -> bool:
        return s.renewable(now)

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

    def _renew_lead(self, s: SessionRecord) -> timedelta:
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

    def _session(self, name: str) -> SessionRecord:
        s = self._sessions.get(name)
        if s is None:
            raise TrayError(f"there is no SSO session named {name} in the AWS config any more")
        return s

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
                s.problem, s.error = f"cannot renew: {describe_error(error)}", True
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
                s.problem, s.error = describe_error(error), True
                self._retry_later(name, lambda: self._refresh_accounts(name))
            else:
                s.discovery, s.problem, s.error, s.failures = discovery, None, False, 0
                self._rebuild_roles()
            self._schedule_session(name)

        s.refreshing = self._work(lambda: accounts.discover(session, token, clock=self.clock), listed)
        return s.refreshing


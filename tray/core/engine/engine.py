"""The tray's engine: the one owner of what the tray knows, applying every event in order.

One thread (the engine thread) holds the session records and is the only one that changes them. Menu
clicks, timers, the file watcher and finished work all arrive as events on its queue and are applied one
at a time (`loop`); after each, a fresh State snapshot is published. Slow work (AWS calls, the clipboard,
file writes) runs on a small worker pool, a sign-in on a thread of its own, and each posts its outcome back
as an event, so no session is ever seen or left half-updated. What falls due for a session is in `jobs`,
the sign-ins in `signins`, `aws login` profiles (sessions of their own, with their own cache files) in
`logins`, the person's actions with credentials in `actions` (mixed into the class).

What a session shows is derived from the files plus what the engine itself is doing: the token cache file
is read again whenever it changes (another `sso-tray login`, `aws sso login`, a renewal elsewhere, a
sign-out in a terminal), the AWS config and the settings likewise; the engine adds only what no file says
(a sign-in under way, a fault being retried, a refresh token that was refused). Files that other
programs write in place are trusted when they parse and are plausible: a config that suddenly lost or
changed sessions is read again at the next look before they are dropped (it may be half-written); a
settings file is used entry by entry, and what it holds of the wrong kind is named in the menu.

Every second the engine thread looks at the files (cheap: a stat of the config and settings, the token
files' bytes) and at the wall clock against the monotonic one: a jump (the laptop slept, the clock was
set) makes it look at every session afresh, so renewable sessions are renewed, a missed warning gives
one notification and pinned profiles are rewritten.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, TimeoutError as FutureTimeout
from datetime import datetime, timedelta
from typing import Callable, Protocol

from tray.core.credentials import RoleCredentials, utcnow
from tray.core.engine.actions import CredentialActions
from tray.core.engine.signins import SignIns
from tray.core.engine.jobs import Jobs
from tray.core.engine.logins import LoginSessions
from tray.core.engine.loop import EventLoop
from tray.core.engine.record import ACCOUNTS, MESSAGE, RENEW, Backoff, LoginRecord, SessionRecord, file_signature, of_session
from tray.core.engine.scheduler import Scheduler
from tray.core.engine.state import State
from tray.core.engine.view import build_state, rebuild_roles, same
from tray.core.errors import TrayError
from tray.core.files.settings import Settings, settings_path
from tray.core.identity import accounts
from tray.core.identity.config import AwsConfig
from tray.core.identity.profiles import RoleProfile
from tray.core.identity.tokens import CorruptTokenCache, read_token

log = logging.getLogger(__name__)

WATCH_INTERVAL = 1.0  # seconds between looks at the files (SPEC §7: changes shown within 5 s)
CLOCK_JUMP = 30.0  # seconds the wall clock may drift from the monotonic one before it counts as a sleep
MESSAGE_SHOWN = timedelta(minutes=1)  # how long an action's outcome stays in the menu
OUTCOME_TAG = "outcome"  # the tag of the toast that tells an action's outcome: each replaces the last
LOOK_AGAIN = "look again"  # a file signature no file has: the next look reads the file again


class Notifier(Protocol):
    available: bool

    def notify(self, title: str, body: str, actions: dict[str, str], on_action: Callable[[str], None],
               tag: str | None = None, urgency: str | None = None) -> None:
        """Show a notification; one with the `tag` of a notification still on screen replaces it."""

    def close(self, tag: str) -> None:
        """Take the tag's notification off the screen."""


class NoNotifier:
    available = False

    def notify(self, title, body, actions, on_action, tag=None, urgency=None) -> None:
        pass

    def close(self, tag) -> None:
        pass


class Engine(Jobs, SignIns, LoginSessions, CredentialActions):
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
        self.backoff = Backoff(clock, retry_base, retry_cap)
        self.watch_interval = watch_interval
        self._listeners: list[Callable[[State], None]] = []
        self.config: AwsConfig | None = None
        self.config_problem: str | None = None
        self.settings = Settings()
        self.settings_problem: str | None = None
        self._sessions: dict[str, SessionRecord] = {}
        self._logins: dict[str, LoginRecord] = {}  # `aws login` profiles, by profile name
        self._roles: dict[str, RoleProfile] = {}
        self._creds: dict[str, RoleCredentials] = {}
        self._pin_written: dict[str, datetime] = {}  # when each pinned profile was last written
        self._files: dict[str, object] = {}  # config and settings: what they looked like when read
        self._config_doubted: tuple | None = None  # (the signature of) a config that lost sessions, seen once
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

    def _work(self, work: Callable[[], object], then: Callable[[object, BaseException | None], object],
              own_thread: bool = False) -> Future:
        """Run `work()` on a worker (or a thread of its own); its outcome comes back as the event `then(result, error)`."""
        return self._loop.work(work, then, own_thread)

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
            self.clock(), self._sessions, self._roles, self.settings, self._logins,
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
        for s in [*self._sessions.values(), *self._logins.values()]:
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
        for r in self._logins.values():
            self._read_login(r)
        self._rebuild_roles()
        self._reschedule_all()

    def _load_settings(self) -> None:
        self._files["settings"] = file_signature(settings_path())
        try:  # entries of the wrong kind are dropped and named in the menu; the rest is used
            self.settings, self.settings_problem = Settings.load_checked()
        except TrayError as e:  # keep what is in memory; the file is kept until the person changes a setting
            self.settings_problem = str(e)

    def _load_config(self) -> None:
        from tray.core.files import paths

        path = paths.aws_config_file()
        seen = self._files["config"] = file_signature(path)
        try:
            config = AwsConfig.load()
            # a profile that cannot be used fails alone (its sessions work): the menu still says why
            problem = "; ".join(config.broken.values()) or None
        except TrayError as e:
            config, problem = None, str(e)
        if config is None and self.config is not None and path.is_file():
            # a typo while the file is edited: keep the sessions the last good config had (their
            # warnings given, sign-ins under way) and show the problem until it parses again
            self.config_problem = problem
            return
        if self.config is not None and self._config_doubted != (seen,) and any(
                config is None or config.sessions.get(name) != s.session for name, s in self._sessions.items()):
            # sessions gone or changed: editors and `aws configure set` write the file in place, so this may
            # be a moment of an empty or half-written file. Believed only if the next look finds it the same.
            self._config_doubted = (seen,)
            self._files["config"] = LOOK_AGAIN
            return
        self._config_doubted = None
        self.config, self.config_problem = config, problem
        self._load_logins(self.config)
        old = self._sessions
        self._sessions = {}
        for name, session in (self.config.sessions.items() if self.config else ()):
            s = old.get(name)
            if s is None or s.session != session:
                s = SessionRecord(session, discovery=accounts.read_cache(session))
            self._sessions[name] = s
        for name, s in old.items():
            if self._sessions.get(name) is not s:
                self.scheduler.cancel_where(of_session(name))
                self.backoff.forget(of_session(name))
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
            s.problem, s.error, s.lifetime = None, False, None
            self.backoff.succeeded((RENEW, s.session.name))
            self.backoff.succeeded((ACCOUNTS, s.session.name))
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
            for r in self._logins.values():
                self._read_login(r)
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
        changed = self._check_logins() or changed
        if changed or jumped:
            if jumped:
                log.info("the clock moved by more than %s s against the monotonic clock: looking afresh", CLOCK_JUMP)
                self.backoff.clock_jumped()
            self._reschedule_all()

    def _profiles_of(self, name: str) -> list[str]:
        return [p for p, r in self._roles.items() if r.session.name == name]

    # --- actions (each returns a Future; failures become problems, never exceptions) ------------

    def _tell(self, message: str, failed: bool = False) -> None:
        """The outcome line in the menu, for a minute: after that it would be news no more."""
        self.message, self.message_failed = message, failed

        def forget():
            if self.message == message:
                self.message, self.message_failed = None, False

        self.scheduler.schedule((MESSAGE,), self.clock() + MESSAGE_SHOWN, lambda: self._post(forget))

    def _toast(self, text: str, failed: bool = False) -> None:
        """An action's outcome at the moment, where the platform shows notifications: a quiet one that
        replaces the last outcome's."""
        if self.settings.notifications:
            self.notifier.notify("sso-tray", text, {}, lambda _a: None, tag=OUTCOME_TAG,
                                 urgency="normal" if failed else "low")

    def _fail(self, message: str, notify: bool = True) -> None:
        self._tell(message, failed=True)
        if notify:
            self._toast(message, failed=True)

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

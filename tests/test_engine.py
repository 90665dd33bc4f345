"""The engine and its timer on a fake clock, against the simulator over HTTP: warnings once each,
sleep/resume, silent renewal inside its window, pinned profiles rewritten before they expire."""

from __future__ import annotations

import hashlib
import json
import stat
from datetime import datetime, timedelta, timezone

import pytest

from conftest import run_cli
from tray.core.engine.engine import Engine
from tray.core.engine.scheduler import MAX_SLEEP, Scheduler
from tray.core.engine.state import EXPIRED, EXPIRING, SIGNED_OUT, VALID
from tray.core.engine.warnings import due_warning, next_warning_time


class FakeClock:
    """Wall-clock time that tests move by hand; the simulator's clock moves with it."""

    def __init__(self, sim=None):
        self.now = datetime.now(timezone.utc).replace(microsecond=0)
        self.sim = sim

    def __call__(self):
        return self.now

    def advance(self, **delta):
        step = timedelta(**delta)
        self.now += step
        if self.sim is not None:
            self.sim.advance_time(step.total_seconds())


class Notes:
    available = True

    def __init__(self):
        self.shown = []
        self.callbacks = []
        self.sent = []  # (title, tag, urgency)
        self.bodies = []
        self.closed = []

    def notify(self, title, body, actions, on_action, tag=None, urgency=None):
        self.shown.append(title)
        self.callbacks.append(on_action)
        self.sent.append((title, tag, urgency))
        self.bodies.append(body)

    def close(self, tag):
        self.closed.append(tag)


def due(engine):
    """Run what the timer would run now and wait until the engine has applied all of it."""
    keys = engine.scheduler.run_due()
    assert engine.wait_idle()
    return keys


def token_path(home):
    return home / ".aws" / "sso" / "cache" / (hashlib.sha1(b"dev").hexdigest() + ".json")


def set_expiry(home, when: datetime, refresh: bool = True):
    path = token_path(home)
    body = json.loads(path.read_text(encoding="utf-8"))
    body["expiresAt"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    if not refresh:
        body.pop("refreshToken", None)
    path.write_text(json.dumps(body), encoding="utf-8")


@pytest.fixture
def engine_for(sso_env, home):
    made = []

    def make(clock):
        # the files are looked at when a test says so (engine.check()), not every second
        e = Engine(clock=clock, scheduler=Scheduler(clock), notifier=Notes(), copy=lambda text, after: None, retry_base=1,
                   watch_interval=None)
        made.append(e)
        return e

    yield make
    for e in made:
        e.stop()


# --- pure warning rules -------------------------------------------------------------------------


def test_each_threshold_warns_once():
    expires = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
    warned: set[int] = set()
    seen = []
    t = expires - timedelta(minutes=45)
    while t < expires:
        m = due_warning(expires, (30, 10, 2), t, warned)
        if m:
            seen.append(m)
        t += timedelta(seconds=30)
    assert seen == [30, 10, 2]


def test_a_jump_over_several_thresholds_warns_once():
    expires = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
    warned: set[int] = set()
    assert due_warning(expires, (30, 10, 2), expires - timedelta(minutes=40), warned) is None
    # the laptop slept from 40 to 1 minute before expiry
    assert due_warning(expires, (30, 10, 2), expires - timedelta(minutes=1), warned) == 2
    assert warned == {30, 10, 2}
    assert due_warning(expires, (30, 10, 2), expires - timedelta(seconds=30), warned) is None
    assert next_warning_time(expires, (30, 10, 2), expires - timedelta(seconds=30), warned) is None


def test_scheduler_sleeps_at_most_a_minute_and_runs_due_jobs_once():
    clock = FakeClock()
    sched = Scheduler(clock)
    assert sched.seconds_to_sleep(clock()) == MAX_SLEEP == 60
    ran = []
    sched.schedule("a", clock() + timedelta(minutes=5), lambda: ran.append("a"))
    sched.schedule("b", clock() + timedelta(seconds=10), lambda: ran.append("b"))
    assert sched.seconds_to_sleep(clock()) == 10
    clock.advance(hours=3)  # sleep/resume: everything overdue runs once, in deadline order
    assert sched.run_due() == ["b", "a"] and ran == ["b", "a"]
    assert sched.run_due() == [] and sched.seconds_to_sleep(clock()) == 60


# --- the engine ---------------------------------------------------------------------------------


def test_signed_out_then_sign_in_lists_accounts(engine_for, sso_env, home):
    clock = FakeClock(sso_env)
    engine = engine_for(clock)
    engine.load()
    assert engine.state.sessions[0].state == SIGNED_OUT
    engine.sign_in("dev").result(timeout=30)
    s = engine.state.sessions[0]
    assert s.state == VALID and s.expires_at > clock()
    due(engine)  # the account refresh falls due at once after a sign-in
    engine.refresh_accounts("dev").result(timeout=30)
    names = [a.name for a in engine.state.sessions[0].accounts]
    assert names == sorted(names) and len(names) == 3


def test_warnings_fire_once_each_and_once_after_resume(engine_for, sso_env, home):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    clock = FakeClock(sso_env)
    set_expiry(home, clock() + timedelta(minutes=45), refresh=False)
    engine = engine_for(clock)
    engine.load()
    notes = engine.notifier
    for minute in range(46):
        due(engine)
        clock.advance(minutes=1)
    # one notification for the session, louder at each threshold, and one "expired" at the end
    assert notes.sent == [("AWS session dev expires in 30m", "session:dev", "low"),
                          ("AWS session dev expires in 10m", "session:dev", "normal"),
                          ("AWS session dev expires in 2m", "session:dev", "critical"),
                          ("AWS session dev has expired", "session:dev", "critical")]
    assert notes.closed == []
    assert engine.state.sessions[0].state == EXPIRED, engine.state.sessions[0].problem
    for minute in range(5):  # the expired notice is given once
        due(engine)
        clock.advance(minutes=1)
    assert len(notes.sent) == 4
    notes.callbacks[-1]("sign-in").result(timeout=30)  # its "Sign in"
    assert engine.state.sessions[0].state == VALID
    assert notes.closed == ["session:dev"]  # no longer true: taken away


def test_sleep_through_thresholds_gives_one_warning(engine_for, sso_env, home):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    clock = FakeClock(sso_env)
    set_expiry(home, clock() + timedelta(minutes=45), refresh=False)
    engine = engine_for(clock)
    engine.load()
    due(engine)
    clock.advance(minutes=44)  # asleep from 45 to 1 minute before expiry
    due(engine)
    assert engine.notifier.shown == ["AWS session dev expires in 1m"]
    assert engine.state.sessions[0].state == EXPIRING, engine.state.sessions[0].problem


def test_the_warning_action_starts_the_sign_in(engine_for, sso_env, home):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    clock = FakeClock(sso_env)
    set_expiry(home, clock() + timedelta(minutes=5), refresh=False)
    old = json.loads(token_path(home).read_text(encoding="utf-8"))["accessToken"]
    engine = engine_for(clock)
    engine.load()
    due(engine)
    assert engine.notifier.shown == ["AWS session dev expires in 5m"]
    engine.notifier.callbacks[0]("sign-in").result(timeout=30)
    assert json.loads(token_path(home).read_text(encoding="utf-8"))["accessToken"] != old
    assert engine.state.sessions[0].state == VALID
    assert engine.notifier.closed == ["session:dev"]


def test_silent_renewal_happens_inside_its_window_and_never_warns(engine_for, sso_env, home):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    clock = FakeClock(sso_env)
    set_expiry(home, clock() + timedelta(hours=1))
    engine = engine_for(clock)
    engine.load()
    renew_at = engine.scheduler.deadline(("renew", "dev"))
    expires = engine.state.sessions[0].expires_at
    # before the first warning (30 min) and inside botocore's 15-minute window would also do
    assert expires - timedelta(minutes=32) <= renew_at <= expires - timedelta(minutes=30)
    clock.now = renew_at
    due(engine)
    assert engine.wait_idle()
    assert engine.state.sessions[0].expires_at > expires + timedelta(hours=6)
    assert engine.notifier.shown == []
    assert sso_env.calls()["CreateToken"] == 2  # the sign-in and the renewal


def test_pinned_profile_is_rewritten_before_it_expires(engine_for, sso_env, home):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    sso_env.options.credential_lifetime = 3600
    clock = FakeClock(sso_env)
    engine = engine_for(clock)
    engine.load()
    engine.toggle_pinned("dev-admin").result(timeout=30)
    creds_file = home / ".aws" / "credentials"
    first = creds_file.read_text(encoding="utf-8")
    assert "[dev-admin]" in first
    creds_file.chmod(0o644)  # opened up by hand: keeping it fresh narrows it again
    when = engine.scheduler.deadline(("pin", "dev", "dev-admin"))
    assert timedelta(minutes=39) <= when - clock() <= timedelta(minutes=41)
    clock.now = when
    due(engine)
    assert engine.wait_idle()
    second = creds_file.read_text(encoding="utf-8")
    assert second != first and "[dev-admin]" in second
    assert stat.S_IMODE(creds_file.stat().st_mode) == 0o600
    assert json.loads((home / ".config" / "sso-tray" / "settings.json").read_text(encoding="utf-8"))["pinned"] == ["dev-admin"]


def test_pinned_profile_that_cannot_be_refreshed_is_notified(engine_for, sso_env, home):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    clock = FakeClock(sso_env)
    engine = engine_for(clock)
    engine.load()
    engine.toggle_pinned("dev-admin").result(timeout=30)
    sso_env.revoke_all_tokens()
    clock.now = engine.scheduler.deadline(("pin", "dev", "dev-admin"))
    due(engine)
    assert engine.wait_idle()
    assert engine.notifier.shown and engine.notifier.shown[-1] == "dev-admin can no longer be kept fresh"


def test_network_fault_is_an_error_and_recovers(engine_for, sso_env, home):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    clock = FakeClock(sso_env)
    engine = engine_for(clock)
    engine.load()
    sso_env.stop()
    engine.refresh_accounts("dev").result(timeout=60)
    s = engine.state.sessions[0]
    # the session keeps its state (and its urgency); the failure is a badge, with its next try
    assert s.state == VALID and s.failing and "cannot reach" in s.problem
    assert s.retry_at == engine.scheduler.deadline(("accounts", "dev"))
    # no loop of failures: the listing is tried again after a backoff, and nothing else due before it
    retry_at = engine.scheduler.deadline(("accounts", "dev"))
    assert timedelta(seconds=0.7) <= retry_at - clock() <= timedelta(seconds=1)
    assert due(engine) == []
    clock.advance(seconds=1)
    due(engine)
    assert engine.wait_idle()
    assert engine.scheduler.deadline(("accounts", "dev")) - clock() >= timedelta(seconds=1.5)  # backing off
    sso_env.start()
    clock.advance(seconds=3)
    due(engine)  # the retry, with backoff
    assert engine.wait_idle()
    s = engine.state.sessions[0]
    assert s.state == VALID and s.problem is None and not s.failing and len(s.accounts) == 3


def test_corrupt_cache_is_signed_out_with_a_reason(engine_for, sso_env, home):
    path = token_path(home)
    path.parent.mkdir(parents=True)
    path.write_text("{", encoding="utf-8")
    engine = engine_for(FakeClock(sso_env))
    engine.load()
    s = engine.state.sessions[0]
    assert s.state == SIGNED_OUT and "corrupt" in s.problem


def test_bad_config_is_shown_not_raised(engine_for, home):
    (home / ".aws" / "config").write_text("[sso-session x\nsso_region = us-east-1\n", encoding="utf-8")
    engine = engine_for(FakeClock())
    engine.load()
    assert "not valid INI" in engine.state.problem and engine.state.icon_state == "error"


def test_a_section_that_cannot_be_used_is_that_sessions_problem(engine_for, home):
    """A section without sso_start_url beside a good one: the good session is there as ever, the other shows why
    (it used to make the whole config a problem: no session at all)."""
    (home / ".aws" / "config").write_text(
        "[sso-session x]\nsso_region = us-east-1\n\n[sso-session ok]\nsso_start_url = https://ok.awsapps.com/start\nsso_region = us-east-1\n",
        encoding="utf-8")
    engine = engine_for(FakeClock())
    engine.load()
    views = {s.name: s for s in engine.state.sessions}
    assert engine.state.problem is None and views["ok"].problem is None
    assert "missing key sso_start_url" in views["x"].problem


def test_idle_engine_wakes_at_most_once_a_minute(engine_for, sso_env, home):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    clock = FakeClock(sso_env)
    engine = engine_for(clock)
    engine.load()
    due(engine)
    assert engine.wait_idle()
    for _ in range(30):
        assert engine.scheduler.seconds_to_sleep(clock()) >= 59
        clock.advance(minutes=1)
        due(engine)


def test_retry_now_tries_the_failed_listing_at_once(engine_for, sso_env, home):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    clock = FakeClock(sso_env)
    engine = engine_for(clock)
    engine.load()
    sso_env.stop()
    engine.refresh_accounts("dev").result(timeout=60)
    assert engine.state.sessions[0].failing
    sso_env.start()
    engine.retry_now("dev").result(timeout=60)  # no time passes: not after the backoff
    assert engine.wait_idle()
    s = engine.state.sessions[0]
    assert not s.failing and s.problem is None and len(s.accounts) == 3


def test_a_lost_connection_with_minutes_left_notifies_once(engine_for, sso_env, home):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    clock = FakeClock(sso_env)
    set_expiry(home, clock() + timedelta(minutes=20), refresh=False)
    engine = engine_for(clock)
    engine.load()
    due(engine)
    notes = engine.notifier
    assert notes.sent == [("AWS session dev expires in 20m", "session:dev", "low")]
    sso_env.stop()
    for _ in range(3):  # the person clicks Refresh accounts again and again
        engine.refresh_accounts("dev").result(timeout=60)
    assert notes.sent[1:] == [("AWS session dev expires in 20m", "session:dev", "critical")]
    assert "can't reach AWS" in notes.bodies[1] and "http" not in notes.bodies[1]


def test_a_copy_is_told_at_the_moment_and_its_menu_line_goes_after_a_minute(engine_for, sso_env, home):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    clock = FakeClock(sso_env)
    engine = engine_for(clock)
    engine.load()
    due(engine)
    engine.copy_export("dev-admin", "bash").result(timeout=60)
    assert engine.wait_idle()
    notes = engine.notifier
    assert notes.sent[-1] == ("sso-tray", "outcome", "low")
    assert notes.bodies[-1].startswith("Copied ") and notes.bodies[-1].endswith("(bash) — clipboard clears in 90 s")
    assert engine.state.message.startswith("Copied bash export lines for dev-admin")
    clock.advance(seconds=59)
    due(engine)
    assert engine.state.message is not None
    clock.advance(seconds=2)
    due(engine)
    assert engine.state.message is None

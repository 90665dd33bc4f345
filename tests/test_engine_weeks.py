"""The engine over weeks: it follows the files that other programs change, survives sleeps and clock
jumps, renews from the newest token, and keeps one owner per session while many threads act at once.

The clock is fake (the simulator's moves with it); the files, the simulator and the AWS calls are real.
After every event the engine's picture of each session must equal what `sso-tray status` computes from
disk.
"""

from __future__ import annotations

import json
import os
import logging
import random
import threading
import time
import urllib.request
from datetime import timedelta

import pytest

from conftest import run_cli, standard_config, write_config
from test_engine import FakeClock, due, token_path
from tray.core.identity.config import AwsConfig
from tray.core.engine.engine import Engine
from tray.core.engine.scheduler import Scheduler
from tray.core.identity.sessions import renew, session_status
from tray.core.identity.signin import SignInOptions, login, logout
from tray.core.engine.state import ERROR, EXPIRED, SIGNED_OUT, VALID


class Notes:
    """Notifications, with the expiry of the session's token file at the moment each was given."""

    available = True

    def __init__(self, home, clock):
        self.home, self.clock = home, clock
        self.shown: list[tuple[str, str | None, object]] = []

    def close(self, tag):
        pass

    def notify(self, title, body, actions, on_action, tag=None, urgency=None):
        try:
            expiry = json.loads(token_path(self.home).read_text(encoding="utf-8"))["expiresAt"]
        except (OSError, ValueError, KeyError):
            expiry = None
        self.shown.append((title, expiry, self.clock()))


@pytest.fixture
def make_engine(sso_env, home):
    made = []

    def make(clock, **kwargs):
        kwargs.setdefault("watch_interval", None)
        e = Engine(clock=clock, scheduler=Scheduler(clock), notifier=Notes(home, clock), copy=lambda text, after: None,
                   retry_base=1, **kwargs)
        made.append(e)
        return e

    yield make
    for e in made:
        e.stop()


def signed_in(make_engine, sso_env):
    """(engine, clock): signed in by `sso-tray login` in a terminal, then the engine started."""
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    clock = FakeClock(sso_env)
    engine = make_engine(clock)
    engine.load()
    return engine, clock


def settle(engine):
    """The engine looks at the files and the clock, and finishes what that started. Twice: a config that
    lost sessions is believed at the second look (it may have been caught half-written)."""
    for _ in range(2):
        engine.check()
        assert engine.wait_idle(60)


def assert_matches_disk(engine, clock):
    """What the engine shows for each session is what `sso-tray status` computes from the files."""
    try:
        config = AwsConfig.load()
    except Exception:
        config = None
    sessions = dict(config.sessions) if config else {}
    state = engine.state
    assert [v.name for v in state.sessions] == list(sessions)
    for view in state.sessions:
        status, _token = session_status(sessions[view.name], clock(), renew_due=False)
        assert (view.status, view.expires_at) == (status.state, status.expires_at), view


def browser_login(session):
    """Another program signs in (the simulator approves at once; the 'browser' is a plain GET)."""
    login(session, SignInOptions(opener=lambda url: urllib.request.urlopen(url, timeout=30).read()))


def other_program(action, session):
    """What another program does may fail in a race with the tray (its token renewed meanwhile):
    that is its problem, not the tray's."""
    from tray.core.errors import TrayError

    try:
        action(session)
    except TrayError:
        pass


# --- following the world --------------------------------------------------------------------------


def test_a_config_written_later_and_a_sign_in_elsewhere_are_followed(make_engine, sso_env, home):
    config = home / ".aws" / "config"
    config.unlink()
    clock = FakeClock(sso_env)
    engine = make_engine(clock)
    engine.load()
    assert engine.state.sessions == ()
    write_config(home, standard_config(sso_env))
    settle(engine)
    assert [(s.name, s.state) for s in engine.state.sessions] == [("dev", SIGNED_OUT)]
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    settle(engine)
    assert engine.state.sessions[0].state == VALID
    assert engine.scheduler.deadline(("renew", "dev")) is not None  # and it is looked after from now on
    assert run_cli("logout").returncode == 0
    settle(engine)
    assert engine.state.sessions[0].state == SIGNED_OUT
    assert engine.scheduler.deadline(("renew", "dev")) is None
    assert_matches_disk(engine, clock)


def test_the_engine_looks_at_the_files_by_itself(make_engine, sso_env, home):
    engine = make_engine(FakeClock(sso_env), watch_interval=0.05)
    engine.load()
    assert engine.state.sessions[0].state == SIGNED_OUT
    seen = threading.Event()
    engine.subscribe(lambda state: state.sessions and state.sessions[0].state == VALID and seen.set())
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    assert seen.wait(5), "a sign-in made elsewhere was not shown within 5 s"


def test_a_token_written_in_place_by_botocore_is_read_whole(make_engine, sso_env, home):
    """botocore's JSONFileCache writes the cache file in place, as `aws sso login` does."""
    from botocore.utils import JSONFileCache

    engine, clock = signed_in(make_engine, sso_env)
    body = json.loads(token_path(home).read_text(encoding="utf-8"))
    body["expiresAt"] = (clock() + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    JSONFileCache(str(token_path(home).parent))[token_path(home).stem] = body
    settle(engine)
    assert engine.state.sessions[0].expires_at == clock() + timedelta(hours=3)
    assert_matches_disk(engine, clock)


# --- sleep, renewal, rotation ----------------------------------------------------------------------


def test_a_sleep_past_expiry_renews_and_looks_after_the_session_again(make_engine, sso_env, home):
    engine, clock = signed_in(make_engine, sso_env)
    expires = engine.state.sessions[0].expires_at
    clock.advance(hours=9)  # asleep past the expiry
    settle(engine)
    due(engine)
    s = engine.state.sessions[0]
    assert s.state == VALID and s.expires_at > clock() + timedelta(hours=7), s
    assert s.expires_at > expires
    for key in ("expire", "renew", "accounts"):
        assert engine.scheduler.deadline((key, "dev")) is not None, key
    assert engine.notifier.shown == []
    assert_matches_disk(engine, clock)


def test_an_expired_but_renewable_token_is_renewed_at_start(make_engine, sso_env, home):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    clock = FakeClock(sso_env)
    clock.advance(hours=9)
    engine = make_engine(clock)
    engine.load()
    assert engine.state.sessions[0].state == EXPIRED
    due(engine)
    assert engine.state.sessions[0].state == VALID
    assert_matches_disk(engine, clock)


def test_renewal_uses_the_newest_refresh_token_in_the_file(make_engine, sso_env, home):
    sso_env.options.rotate_refresh_tokens = True
    engine, clock = signed_in(make_engine, sso_env)
    session = AwsConfig.load().session("dev")
    # another program renews first: the refresh token the tray read at start no longer works
    renew(session, clock(), window=timedelta(days=1))
    clock.advance(hours=7, minutes=50)  # the tray has not looked at the file since; its renewal is due
    due(engine)
    s = engine.state.sessions[0]
    assert s.state == VALID and s.problem is None, s
    assert s.expires_at > clock() + timedelta(hours=7)
    assert_matches_disk(engine, clock)


def test_a_token_renewed_elsewhere_is_adopted_not_renewed_again(make_engine, sso_env, home):
    engine, clock = signed_in(make_engine, sso_env)
    clock.advance(hours=7, minutes=20)
    renew(AwsConfig.load().session("dev"), clock(), window=timedelta(days=1))
    calls = sso_env.calls()["CreateToken"]
    clock.advance(minutes=10)  # past the tray's own renewal time for the old token
    due(engine)
    assert sso_env.calls()["CreateToken"] == calls
    assert engine.state.sessions[0].expires_at > clock() + timedelta(hours=7)
    assert_matches_disk(engine, clock)


# --- one owner -------------------------------------------------------------------------------------


def test_actions_from_many_threads_leave_every_session_whole(make_engine, sso_env, home, caplog):
    caplog.set_level(logging.ERROR)
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    clock = FakeClock(sso_env)
    clock.advance(hours=7, minutes=50)  # a renewal falls due while everything else happens
    engine = make_engine(clock, watch_interval=0.01)
    engine.load()
    session = AwsConfig.load().session("dev")
    actions = [
        lambda: engine.refresh_accounts("dev"),
        lambda: engine.copy_export("dev-admin"),
        lambda: engine.write_credentials("dev-read"),
        lambda: engine.toggle_favourite("dev-admin"),
        lambda: engine.check(),
        lambda: engine.reload(),
        lambda: engine.scheduler.run_due(),
        lambda: engine.update_settings(warn_minutes=[20, 5]),
        lambda: engine._post(engine._renew, "dev"),
    ]
    start = threading.Barrier(8)
    errors = []

    def fire(seed):
        rng = random.Random(seed)
        start.wait()
        try:
            for _ in range(40):
                rng.choice(actions)()
                if rng.random() < 0.05:  # another program ends the session or signs in again under the tray
                    other_program(logout if rng.random() < 0.5 else browser_login, session)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=fire, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    settle(engine)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    assert "internal error" not in (engine.state.message or "")
    assert_matches_disk(engine, clock)


def test_a_malformed_settings_file_is_shown_and_kept(make_engine, sso_env, home):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    folder = home / ".config" / "sso-tray"
    folder.mkdir(parents=True)
    bad = '{"favourites": ["dev-admin"], "pinned": [oops'
    (folder / "settings.json").write_text(bad, encoding="utf-8")
    engine = make_engine(FakeClock(sso_env))
    engine.load()
    assert "settings" in (engine.state.problem or "")
    engine.copy_export("dev-admin").result(timeout=30)  # remembered as recent, but not saved over the file
    assert (folder / "settings.json").read_text(encoding="utf-8") == bad
    engine.update_settings(default_format="fish").result(timeout=30)  # the person's say
    assert json.loads((folder / "settings.json").read_text(encoding="utf-8"))["default_format"] == "fish"
    assert any(p.read_text(encoding="utf-8") == bad for p in folder.iterdir() if p.name != "settings.json"), "the bad file was not kept"
    assert engine.state.problem is None


# --- a week on a fake clock ------------------------------------------------------------------------


def test_a_week_of_sleeps_renewals_outages_and_edits(make_engine, sso_env, home, caplog):
    caplog.set_level(logging.ERROR)
    sso_env.options.rotate_refresh_tokens = True
    sso_env.options.session_lifetime = 2 * 86400  # sign-ins end within the week
    config_path = home / ".aws" / "config"
    base_config = config_path.read_text(encoding="utf-8")
    engine, clock = signed_in(make_engine, sso_env)
    rng = random.Random(int(os.environ.get("SOAK_SEED", "20261130")))
    end = clock() + timedelta(days=7)
    session = lambda: AwsConfig.load().session("dev")  # noqa: E731
    counts: dict[str, int] = {}
    started = time.monotonic()

    def pass_time(minutes: int) -> None:
        """Time goes by with the tray awake: every deadline on the way runs when it falls due."""
        target = clock() + timedelta(minutes=minutes)
        stuck = 0
        while True:
            nxt = engine.scheduler.next_deadline()
            if nxt is None or nxt > target:
                break
            stuck = stuck + 1 if nxt <= clock() else 0
            assert stuck < 20, f"work falls due again and again at {clock()}: {engine.scheduler.keys()}"
            if nxt > clock():
                clock.advance(seconds=(nxt - clock()).total_seconds())
            due(engine)
            assert_matches_disk(engine, clock)
        clock.advance(seconds=(target - clock()).total_seconds())
        due(engine)

    def outage() -> None:
        sso_env.stop()
        pass_time(rng.randint(5, 90))
        assert_matches_disk(engine, clock)
        sso_env.start()

    def other_renews() -> None:
        try:
            renew(session(), clock(), window=timedelta(days=1))
        except Exception:  # noqa: BLE001 - signed out, or the sign-in has ended: nothing to renew
            pass

    def edit_config() -> None:
        text = config_path.read_text(encoding="utf-8")
        if "[sso-session ops]" in text:
            config_path.write_text(base_config, encoding="utf-8")
        else:
            config_path.write_text(text + "\n# added by hand\n[sso-session ops]\nsso_start_url = https://ops.awsapps.com/start\nsso_region = us-east-1\n", encoding="utf-8")

    def tray_signs_in() -> None:
        if engine.state.sessions and engine.state.sessions[0].status != "valid":
            engine.sign_in("dev").result(timeout=60)

    events = {
        "time": lambda: pass_time(rng.randint(1, 90)),
        "sleep": lambda: clock.advance(hours=rng.choices([1, 8, 72], [3, 2, 1])[0]),
        "outage": outage,
        "other renews": other_renews,
        "signed out elsewhere": lambda: other_program(logout, session()),
        "signed in elsewhere": lambda: other_program(browser_login, session()),
        "tray signs in": tray_signs_in,
        "config edited": edit_config,
        "copy": lambda: engine.copy_export("dev-admin").result(timeout=60),
        "accounts": lambda: engine.refresh_accounts("dev").result(timeout=60),
    }
    weights = [40, 6, 4, 6, 3, 4, 6, 4, 6, 4]
    while clock() < end:
        kind = rng.choices(list(events), weights)[0]
        events[kind]()
        counts[kind] = counts.get(kind, 0) + 1
        settle(engine)
        due(engine)
        assert_matches_disk(engine, clock)
    elapsed = time.monotonic() - started
    print(f"soak: {sum(counts.values())} events in {elapsed:.1f} s: {counts}")
    assert counts["sleep"] >= 3 and counts["outage"] >= 2 and counts["other renews"] >= 3
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    # no warning twice: per token expiry, each threshold band at most once
    bands = set()
    for title, expiry, at in engine.notifier.shown:
        if title.startswith("AWS session") and " expires in " in title:
            left = (json_time(expiry) - at).total_seconds() / 60
            band = min((m for m in (30, 10, 2) if left <= m), default=None)
            assert (expiry, band) not in bands, engine.notifier.shown
            bands.add((expiry, band))
    assert engine.state.sessions[0].state in (VALID, EXPIRED, SIGNED_OUT, ERROR)


def json_time(text):
    from tray.core.credentials import parse_time

    return parse_time(text)


def test_cancelling_a_sign_in_is_quiet_and_frees_the_session(make_engine, sso_env, home):
    sso_env.options.auto_approve = False  # nobody clicks Allow: the sign-in waits for the browser
    engine = make_engine(FakeClock(sso_env))
    engine.load()
    started = threading.Event()
    engine.subscribe(lambda state: state.sessions and state.sessions[0].state == "signing_in" and started.set())
    done = engine.sign_in("dev")
    assert started.wait(30)
    engine.cancel_sign_in("dev")
    done.result(timeout=5)
    s = engine.state.sessions[0]
    assert s.state == SIGNED_OUT and s.problem is None
    assert engine.state.message == "The sign-in to dev was cancelled." and not engine.state.message_failed
    assert engine.notifier.shown == []
    started.clear()
    again = engine.sign_in("dev")  # and a new one can start at once
    assert started.wait(30)
    engine.cancel_sign_in("dev")
    again.result(timeout=5)
    assert engine.wait_idle(5)


# --- found in review: each of these failed before its fix ------------------------------------------


def walk(engine, clock, until):
    """Time goes by with the tray awake until `until`: every deadline on the way runs when it falls due."""
    while True:
        nxt = engine.scheduler.next_deadline()
        if nxt is None or nxt > until:
            break
        if nxt > clock():
            clock.advance(seconds=(nxt - clock()).total_seconds())
        due(engine)


def warnings_shown(engine):
    return [title for title, _expiry, _at in engine.notifier.shown if title.startswith("AWS session") and " expires in " in title]


def test_the_end_of_the_identity_center_session_is_warned_not_renewed_again_and_again(make_engine, sso_env, home):
    sso_env.options.session_lifetime = 10 * 3600  # a sign-in lasts 10 h; each token 8 h, the last one less
    engine, clock = signed_in(make_engine, sso_env)
    created = sso_env.calls()["CreateToken"]
    walk(engine, clock, clock() + timedelta(hours=10, minutes=5))
    assert warnings_shown(engine) == ["AWS session dev expires in 30m", "AWS session dev expires in 10m", "AWS session dev expires in 2m"]
    assert sso_env.calls()["CreateToken"] - created <= 2  # the renewal that gave 2 more hours, and the one that gave none


def test_a_registration_that_lapses_before_the_renewal_leaves_the_warnings(make_engine, sso_env, home):
    engine, clock = signed_in(make_engine, sso_env)
    body = json.loads(token_path(home).read_text(encoding="utf-8"))
    body["registrationExpiresAt"] = (clock() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    token_path(home).write_text(json.dumps(body), encoding="utf-8")
    settle(engine)
    walk(engine, clock, clock() + timedelta(hours=8, minutes=1))
    assert warnings_shown(engine) == ["AWS session dev expires in 30m", "AWS session dev expires in 10m", "AWS session dev expires in 2m"]


def test_a_token_the_portal_rejects_is_not_tried_again_at_once(make_engine, sso_env, home):
    engine, clock = signed_in(make_engine, sso_env)
    due(engine)  # the first listing
    clock.advance(hours=1, minutes=1)  # the hourly one falls due
    sso_env.revoke_all_tokens()  # the session ended on the server (an admin, a sign-out in the portal)
    before = sso_env.calls().get("ListAccounts", 0)
    for _ in range(5):  # the timer, awake, with no time passing
        due(engine)
    assert sso_env.calls().get("ListAccounts", 0) - before == 1
    assert engine.scheduler.deadline(("accounts", "dev")) > clock()  # backing off
    assert "no longer valid" in engine.state.sessions[0].problem


def test_a_typo_while_the_config_is_edited_forgets_nothing(make_engine, sso_env, home):
    from test_engine import set_expiry

    engine, clock = signed_in(make_engine, sso_env)
    set_expiry(home, clock() + timedelta(minutes=25), refresh=False)  # cannot be renewed: warned
    settle(engine)
    due(engine)
    assert warnings_shown(engine) == ["AWS session dev expires in 25m"]
    config = home / ".aws" / "config"
    good = config.read_text(encoding="utf-8")
    config.write_text(good.replace("sso_account_id = ", "sso_account_id = 1", 1), encoding="utf-8")  # 13 digits: does not parse
    settle(engine)
    assert "sso_account_id" in engine.state.problem and [s.name for s in engine.state.sessions] == ["dev"]
    config.write_text(good, encoding="utf-8")
    settle(engine)
    due(engine)
    assert engine.state.problem is None
    assert warnings_shown(engine) == ["AWS session dev expires in 25m"]  # not given again


def test_a_sign_out_while_a_renewal_is_in_flight_stays_signed_out(make_engine, sso_env, home, monkeypatch):
    from tray.core.identity import aws, signin

    engine, clock = signed_in(make_engine, sso_env)
    answered, release, logout_asked = threading.Event(), threading.Event(), threading.Event()
    real_client, real_lock = aws.client, signin.file_lock

    class HeldBack:
        """The renewal's answer is on its way back (a slow network) until the test lets it through."""

        def __init__(self, client):
            self._client = client

        def __getattr__(self, name):
            return getattr(self._client, name)

        def create_token(self, **kwargs):
            response = self._client.create_token(**kwargs)
            answered.set()
            assert release.wait(30)
            return response

    def lock_noted(path, *args, **kwargs):
        logout_asked.set()
        return real_lock(path, *args, **kwargs)

    monkeypatch.setattr(aws, "client", lambda service, region, **kw: (HeldBack if service == "sso-oidc" else lambda c: c)(real_client(service, region, **kw)))
    monkeypatch.setattr(signin, "file_lock", lock_noted)
    clock.advance(hours=7, minutes=40)
    engine.scheduler.run_due()  # the renewal starts
    assert answered.wait(30)
    signed_out = engine.sign_out("dev")  # the person clicks Sign out meanwhile
    assert logout_asked.wait(30)
    release.set()
    signed_out.result(timeout=60)
    settle(engine)
    assert not token_path(home).exists()
    assert engine.state.sessions[0].state == SIGNED_OUT


def test_stop_settles_every_future_and_leaves_the_engine_idle(make_engine, sso_env, home):
    sso_env.options.auto_approve = False  # the sign-in waits for a browser: the one worker stays busy
    engine = make_engine(FakeClock(sso_env), workers=1)
    engine.load()
    started = threading.Event()
    engine.subscribe(lambda state: state.sessions and state.sessions[0].state == "signing_in" and started.set())
    signing = engine.sign_in("dev")
    assert started.wait(30)
    queued = engine.write_credentials("dev-admin")  # behind the sign-in, in the pool's queue
    engine._post(lambda: None).result(timeout=10)  # (events apply in order: the write has been handed to the pool)
    engine.stop()
    signing.result(timeout=10)
    queued.result(timeout=10)
    assert engine.wait_idle(10)

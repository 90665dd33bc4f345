"""Issue 17, "Nothing stops the tray": each fault the review reproduced, as a test that failed before its fix.

The clock is fake (the simulator's moves with it); the files, the simulator over HTTP and the AWS calls
are real. `walk` lets time go by with the tray awake and checks the engine's invariants after every event.
"""

from __future__ import annotations

import json
import sys
import threading
import urllib.request
from concurrent.futures import Future, TimeoutError as FutureTimeout
from datetime import timedelta

import pytest

from conftest import START_URL, run_cli, standard_config, write_config
from test_engine import FakeClock, due, set_expiry
from test_engine_weeks import assert_matches_disk, make_engine, settle, signed_in, warnings_shown  # noqa: F401 - fixture
from tray.core.engine.loop import EventLoop
from tray.core.engine.state import SIGNING_IN, VALID
from tray.core.identity.config import AwsConfig
from tray.core.identity.signin import SignInOptions, login


def assert_looked_after(engine):
    """The invariant: every session with a renewable token has its renewal scheduled before it expires."""
    assert engine.renewal_gaps() == [], engine.scheduler.keys()


def walk(engine, clock, until, max_stuck=20):
    """Time goes by with the tray awake until `until`: every deadline on the way runs when it falls due.
    Work that falls due again and again without time moving is a tight loop: a failure."""
    stuck = 0
    while True:
        nxt = engine.scheduler.next_deadline()
        if nxt is None or nxt > until:
            break
        stuck = stuck + 1 if nxt <= clock() else 0
        assert stuck < max_stuck, f"work falls due again and again at {clock()}: {engine.scheduler.keys()}"
        if nxt > clock():
            clock.advance(seconds=(nxt - clock()).total_seconds())
        due(engine)
        assert_looked_after(engine)
    clock.advance(seconds=(until - clock()).total_seconds())
    due(engine)
    assert_looked_after(engine)


def session_config(sim, *names):
    extra = "".join(f"\n[sso-session {n}]\nsso_start_url = {START_URL}\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n"
                    for n in names)
    return standard_config(sim) + extra


# --- 1. renewals go on after an outage -------------------------------------------------------------


def test_renewals_go_on_after_an_outage_across_the_renewal_time(make_engine, sso_env, home):
    engine, clock = signed_in(make_engine, sso_env)
    engine.backoff.cap = 600  # fewer failed tries while the server is away (each costs botocore's retries)
    start = clock()
    walk(engine, clock, start + timedelta(hours=6, minutes=59))
    sso_env.stop()  # the hourly listing is the first call to fail
    walk(engine, clock, start + timedelta(hours=8, minutes=15))  # down across the renewal (7h44) and the expiry
    sso_env.start()
    back = clock()
    walk(engine, clock, back + timedelta(minutes=10))
    s = engine.state.sessions[0]
    assert s.status == "valid" and s.expires_at > clock() + timedelta(hours=7), s
    walk(engine, clock, back + timedelta(hours=3))
    assert engine.state.sessions[0].state == VALID
    assert_matches_disk(engine, clock)


def test_renewals_go_on_while_only_the_portal_is_unreachable(make_engine, sso_env, home, monkeypatch):
    engine, clock = signed_in(make_engine, sso_env)
    engine.backoff.cap = 3600
    start = clock()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", "http://127.0.0.1:9")  # nothing listens there: the portal is away
    walk(engine, clock, start + timedelta(hours=8))
    s = engine.state.sessions[0]
    assert s.status == "valid" and s.expires_at > clock() + timedelta(hours=6), s
    assert sso_env.calls()["CreateToken"] >= 2  # the sign-in and at least one renewal
    assert warnings_shown(engine) == []


def test_a_failed_refresh_of_fresh_accounts_is_tried_again_after_its_backoff(make_engine, sso_env, home):
    """Found by the desktop suite: the retry waited for the next hourly listing."""
    engine, clock = signed_in(make_engine, sso_env)
    due(engine)  # the first listing: the accounts are fresh for an hour
    sso_env.stop()
    engine.refresh_accounts("dev").result(timeout=60)  # the person clicks Refresh accounts
    assert engine.state.sessions[0].state == VALID and engine.state.sessions[0].failing
    sso_env.start()
    walk(engine, clock, clock() + timedelta(seconds=5))
    s = engine.state.sessions[0]
    assert s.state == VALID and s.problem is None, s


def test_a_session_named_like_another_plus_a_colon_keeps_its_jobs(make_engine, sso_env, home):
    write_config(home, session_config(sso_env, "acme", "acme:dev"))  # botocore accepts [sso-session acme:dev]
    for name in ("acme", "acme:dev"):
        assert run_cli("login", "--sso-session", name).returncode == 0
    clock = FakeClock(sso_env)
    engine = make_engine(clock)
    engine.load()
    start = clock()
    walk(engine, clock, start + timedelta(hours=9))
    for view in engine.state.sessions[1:]:  # acme and acme:dev (dev is signed out)
        assert view.status == "valid" and view.expires_at > clock() + timedelta(hours=6), view
    assert warnings_shown(engine) == []


def test_a_clock_set_back_does_not_postpone_a_renewal_that_failed(make_engine, sso_env, home, monkeypatch):
    """Found by the soak: a failed renewal's backoff was a wall-clock time, so setting the clock back by two
    hours postponed the next try by two hours."""
    engine, clock = signed_in(make_engine, sso_env)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", "http://127.0.0.1:9")  # OIDC away: the renewal fails
    clock.advance(hours=72)  # asleep past the expiry
    settle(engine)
    due(engine)
    assert engine.state.sessions[0].problem.startswith("cannot renew")
    clock.now -= timedelta(minutes=142)  # this machine's clock only: AWS's does not move
    settle(engine)
    assert_looked_after(engine)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", sso_env.url)
    walk(engine, clock, clock() + timedelta(minutes=10))
    assert engine.state.sessions[0].status == "valid"


# --- 2. a hand-edited settings file ----------------------------------------------------------------


def test_settings_with_entries_of_the_wrong_kind_keep_the_good_ones_and_the_engine_alive(make_engine, sso_env, home):
    assert run_cli("login", "--sso-session", "dev").returncode == 0
    folder = home / ".config" / "sso-tray"
    folder.mkdir(parents=True)
    text = json.dumps({"pinned": [{"profile": "dev-admin"}], "favourites": ["dev-read", 7]})
    (folder / "settings.json").write_text(text, encoding="utf-8")
    engine = make_engine(FakeClock(sso_env))
    engine.load(timeout=10)
    state = engine.state
    assert [f.profile for f in state.favourites] == ["dev-read"]
    assert state.pinned == frozenset()
    assert "settings" in state.problem and "pinned" in state.problem
    engine.copy_export("dev-admin").result(timeout=30)
    assert engine._loop.thread.is_alive()
    assert (folder / "settings.json").read_text(encoding="utf-8") == text  # not saved over until the person says so


def test_the_loop_survives_an_event_whose_publishing_fails(caplog):
    failures = iter([RuntimeError("a bug while publishing")])

    def publish():
        for e in failures:
            raise e

    loop = EventLoop(on_error=lambda message: None, after_event=publish, on_idle=lambda: None, idle_interval=None, workers=1)
    try:
        first = loop.post(lambda: 1)
        assert loop.post(lambda: 2).result(timeout=5) == 2
        assert first.done()
        assert loop.work(lambda: 3, lambda result, error: result).result(timeout=5) == 3
        assert loop.thread.is_alive() and loop.wait_idle(5)
        assert "a bug while publishing" in caplog.text
    finally:
        loop.stop()


# --- 4. a config written in place ------------------------------------------------------------------


def look(engine):
    """The engine looks at the files and runs what is due (without waiting for a sign-in under way)."""
    engine.check().result(timeout=30)
    engine.scheduler.run_due()
    engine._post(lambda: None).result(timeout=30)  # events apply in order: what the timer posted is applied


def test_an_emptied_config_is_looked_at_again_before_the_sessions_go(make_engine, sso_env, home):
    write_config(home, session_config(sso_env, "ops"))
    engine, clock = signed_in(make_engine, sso_env)
    sso_env.options.auto_approve = False  # a sign-in to ops waits for the browser meanwhile
    set_expiry(home, clock() + timedelta(minutes=25), refresh=False)
    settle(engine)
    due(engine)
    assert warnings_shown(engine) == ["AWS session dev expires in 25m"]
    signing = engine.sign_in("ops")
    config = home / ".aws" / "config"
    good = config.read_text(encoding="utf-8")
    for half in ("", good[: len(good) // 3], good[: good.index("[sso-session ops]") + 12]):
        with open(config, "r+", encoding="utf-8") as f:  # in place, as editors and `aws configure set` write
            f.truncate(0)
            f.write(half)
        look(engine)
        assert [s.name for s in engine.state.sessions] == ["dev", "ops"]
        assert engine.state.sessions[1].state == SIGNING_IN and not signing.done()
        config.write_text(good, encoding="utf-8")
        look(engine)
    assert warnings_shown(engine) == ["AWS session dev expires in 25m"]  # not given again
    assert engine.state.sessions[1].state == SIGNING_IN
    engine.cancel_sign_in("ops")
    signing.result(timeout=10)
    assert_matches_disk(engine, clock)


def test_a_config_emptied_for_good_drops_the_sessions_at_the_next_look(make_engine, sso_env, home):
    engine, clock = signed_in(make_engine, sso_env)
    (home / ".aws" / "config").write_text("", encoding="utf-8")
    engine.check().result(timeout=30)
    assert [s.name for s in engine.state.sessions] == ["dev"]
    engine.check().result(timeout=30)  # the next look (a second later, when the watcher runs by itself)
    assert engine.state.sessions == ()
    assert engine.scheduler.keys() == []
    assert_matches_disk(engine, clock)


# --- 6. sign-ins waiting for the browser -------------------------------------------------------------


def test_sign_ins_waiting_for_the_browser_hold_up_no_other_work(make_engine, sso_env, home):
    others = ("a", "b", "c", "d", "e")
    write_config(home, session_config(sso_env, *others))
    engine, clock = signed_in(make_engine, sso_env)
    sso_env.options.auto_approve = False
    waiting = threading.Event()
    engine.subscribe(lambda state: sum(s.state == SIGNING_IN for s in state.sessions) == len(others) and waiting.set())
    signing = [engine.sign_in(name) for name in others]
    assert waiting.wait(30)
    engine.copy_export("dev-admin").result(timeout=30)
    clock.advance(hours=7, minutes=50)
    engine._post(engine._renew, "dev").result(timeout=30)  # the renewal, done while every sign-in still waits
    assert engine.state.sessions[0].expires_at > clock() + timedelta(hours=7)
    for name in others:
        engine.cancel_sign_in(name)
    for f in signing:
        f.result(timeout=10)


# --- 7. pinned profiles and short-lived role credentials ---------------------------------------------


def test_a_pinned_profile_with_short_lived_credentials_is_rewritten_at_a_sane_pace(make_engine, sso_env, home):
    sso_env.options.credential_lifetime = 15 * 60  # less than the 20 minutes pinned profiles are rewritten before
    engine, clock = signed_in(make_engine, sso_env)
    engine.toggle_pinned("dev-admin").result(timeout=30)
    before = sso_env.calls().get("GetRoleCredentials", 0)
    walk(engine, clock, clock() + timedelta(hours=1))
    calls = sso_env.calls().get("GetRoleCredentials", 0) - before
    assert 4 <= calls <= 12, calls  # kept fresh, but no more than once every few minutes
    written = (home / ".aws" / "credentials").read_text(encoding="utf-8")
    assert "[dev-admin]" in written


def test_a_pinned_profile_is_rewritten_at_a_sane_pace_when_this_clock_is_ahead_of_aws(make_engine, sso_env, home):
    """Found by the soak: with this machine's clock 78 minutes ahead, credentials arrive already expired."""
    engine, clock = signed_in(make_engine, sso_env)
    engine.toggle_pinned("dev-admin").result(timeout=30)
    clock.now += timedelta(minutes=78)  # this machine's clock only: AWS's does not move
    before = sso_env.calls().get("GetRoleCredentials", 0)
    walk(engine, clock, clock() + timedelta(minutes=30))
    assert sso_env.calls().get("GetRoleCredentials", 0) - before <= 16


# --- 8. stop() against posting and finishing work ----------------------------------------------------


def test_every_future_resolves_when_stop_races_posts_and_finishing_work():
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads change hands often: the races show in a few hundred trials
    try:
        stop_racing_posts_and_work(trials=400)
    finally:
        sys.setswitchinterval(switch)


def stop_racing_posts_and_work(trials):
    lost = []
    for trial in range(trials):
        loop = EventLoop(on_error=lambda m: None, after_event=lambda: None, on_idle=lambda: None, idle_interval=None, workers=2)
        futures: list[Future] = []
        lock = threading.Lock()
        go = threading.Barrier(3)

        def post():
            go.wait()
            for _ in range(30):
                f = loop.post(lambda: None)
                with lock:
                    futures.append(f)

        def work():
            go.wait()
            for _ in range(15):
                f = loop.work(lambda: None, lambda result, error: None)
                with lock:
                    futures.append(f)

        threads = [threading.Thread(target=post), threading.Thread(target=work)]
        for t in threads:
            t.start()
        go.wait()
        loop.post(lambda: None).result(timeout=5)  # as Engine.stop() does: the loop is nearly idle when it stops
        loop.stop()
        for t in threads:
            t.join(10)
        for f in futures:
            try:
                f.result(timeout=2)
            except FutureTimeout:
                lost.append(trial)
                break
        else:
            if not loop.wait_idle(2):
                lost.append(trial)
    assert lost == [], f"{len(lost)} of {trials} trials left a future unresolved or work counted as under way"


# --- 9. a registration the server has forgotten -------------------------------------------------------


def fetch(url):
    urllib.request.urlopen(url, timeout=30).read()


@pytest.mark.parametrize("device_code", [False, True], ids=["pkce", "device-code"])
def test_a_registration_the_server_forgot_is_replaced(sso_env, home, device_code):
    session = AwsConfig.load().session("dev")
    options = SignInOptions(opener=fetch, device_code=device_code, timeout=10)
    login(session, options)
    registered = sso_env.calls()["RegisterClient"]
    sso_env.forget_clients()  # the Identity Center side no longer knows sso-tray's client
    token = login(session, SignInOptions(opener=fetch, device_code=device_code, timeout=10))
    assert token.is_valid(token.expires_at - timedelta(hours=1))
    assert sso_env.calls()["RegisterClient"] == registered + 1

"""`aws login` profiles as sessions of the tray's engine, on a fake clock against the simulator's sign-in service
(real botocore over HTTP, DPoP checked): renewed before each 15-minute end, a refresh by another program adopted,
a refused refresh warned about with "Sign in again", sign-in and sign-out, credentials out as for SSO roles."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from conftest import botocore_credentials
from test_aws_login import cli_style_sign_in, cache_path, login_env  # noqa: F401 (a fixture)
from test_engine import FakeClock, Notes, due
from tray.core.engine.engine import Engine
from tray.core.engine.record import LOGIN_RENEW
from tray.core.engine.scheduler import Scheduler
from tray.core.engine.state import EXPIRING, LOGIN, SIGNED_OUT, VALID
from tray.ui.menu import build


@pytest.fixture
def engine_for(login_env):
    made = []

    def make(clock, copied=None):
        # the files are looked at when a test says so (engine.check()), not every second
        e = Engine(clock=clock, scheduler=Scheduler(clock), notifier=Notes(),
                   copy=lambda text, after: copied.append(text) if copied is not None else None,
                   retry_base=1, watch_interval=None)
        made.append(e)
        return e

    yield make
    for e in made:
        e.stop()


def login_view(engine):
    return next(s for s in engine.state.sessions if s.kind == LOGIN)


def access_key(home) -> str:
    return json.loads(cache_path(home).read_text(encoding="utf-8"))["accessToken"]["accessKeyId"]


class Recorder:
    """The menu's actions, recorded by name (the menu is a pure function of the State)."""

    def __getattr__(self, name):
        return lambda *args: None


def test_renewed_before_each_15_minute_end_for_an_hour(login_env, home, engine_for):
    clock = FakeClock(login_env)
    cli_style_sign_in(login_env, home, clock.now + timedelta(minutes=15))
    engine = engine_for(clock)
    engine.load()
    view = login_view(engine)
    assert (view.name, view.state, view.expires_at) == ("me", VALID, clock.now + timedelta(minutes=15))
    assert view.accounts[0].roles[0].profile == "me" and view.accounts[0].account_id == "111122223333"
    # the SSO session of the same config is there too, signed out
    assert [(s.name, s.kind) for s in engine.state.sessions] == [("dev", "sso"), ("me", LOGIN)]
    before = login_env.calls().get("CreateOAuth2Token", 0)
    keys = [access_key(home)]
    for lifetime in range(1, 6):  # five 15-minute lifetimes: each renewed inside botocore's 5-minute window
        clock.advance(minutes=11)
        assert (LOGIN_RENEW, "me") in due(engine)
        keys.append(access_key(home))
        assert login_env.calls()["CreateOAuth2Token"] == before + lifetime
        view = login_view(engine)
        assert view.state == VALID and view.expires_at == clock.now + timedelta(minutes=15) and view.problem is None
        assert engine.scheduler.deadline((LOGIN_RENEW, "me")) == clock.now + timedelta(minutes=10)
        assert engine.renewal_gaps() == []
    assert len(set(keys)) == len(keys) and all(login_env.signin.issued(k) for k in keys[1:])
    assert engine.notifier.shown == []
    body = json.loads(cache_path(home).read_text(encoding="utf-8"))
    shown = repr(engine._logins["me"]) + repr(engine.state)
    assert not [x for x in (body["refreshToken"], body["accessToken"]["secretAccessKey"], body["dpopKey"].splitlines()[1]) if x in shown]
    # the credentials handed out are the renewed ones, from the file (no refresh of their own)
    copied = []
    engine._copy = lambda text, after: copied.append(text)
    engine.copy_export("me", "json").result(timeout=60)
    assert engine.wait_idle() and json.loads(copied[0])["AccessKeyId"] == keys[-1]
    # and what the tray's credentials endpoint hands to terminals ("Copy as auto-refreshing")
    assert engine.role_credentials("me").result(timeout=60).access_key_id == keys[-1]
    assert login_env.calls()["CreateOAuth2Token"] == before + 5


def test_a_refresh_by_another_program_is_adopted(login_env, home, engine_for):
    """The AWS CLI's (botocore's) LoginProvider refreshes the cache in another process: the engine takes the
    new credentials from the file and makes no refresh of its own."""
    clock = FakeClock(login_env)
    cli_style_sign_in(login_env, home, clock.now + timedelta(minutes=2))  # inside botocore's refresh window
    engine = engine_for(clock)
    engine.load()
    assert engine.scheduler.deadline((LOGIN_RENEW, "me")) == clock.now  # due at once
    before = login_env.calls().get("CreateOAuth2Token", 0)
    refreshed = botocore_credentials("me")["access_key"]  # another process, botocore's own provider
    assert login_env.calls()["CreateOAuth2Token"] == before + 1 and access_key(home) == refreshed
    engine.check().result(timeout=60)
    assert engine.wait_idle()
    view = login_view(engine)
    assert view.state == VALID and view.expires_at - clock.now > timedelta(minutes=14)
    assert engine.scheduler.deadline((LOGIN_RENEW, "me")) == view.expires_at - timedelta(minutes=5)
    assert (LOGIN_RENEW, "me") not in due(engine)
    assert login_env.calls()["CreateOAuth2Token"] == before + 1


def test_a_refused_refresh_warns_and_sign_in_again_starts_anew(login_env, home, engine_for):
    clock = FakeClock(login_env)
    cli_style_sign_in(login_env, home, clock.now + timedelta(minutes=15))
    engine = engine_for(clock)
    engine.load()
    login_env.signin.end_sessions()  # signed out of the console everywhere: the refresh token stops working
    clock.advance(minutes=10)
    assert (LOGIN_RENEW, "me") in due(engine)
    assert login_env.signin.refusals[-1].startswith("the refresh token is not valid")
    assert engine.notifier.shown == ["AWS login me can no longer be renewed"]
    view = login_view(engine)
    assert view.state == EXPIRING and view.problem.startswith("cannot renew:") and "sso-tray login --profile me" in view.problem
    assert engine.scheduler.deadline((LOGIN_RENEW, "me")) is None  # no more tries: the sign-in has ended
    menu = [i.text for i in build(engine.state, Recorder())]
    assert "Sign in again (me)" in menu and any(t.startswith("me — 5m left") for t in menu)
    # the next warning: 2 minutes before the credentials end (30 and 10 were passed already: said once above)
    clock.advance(minutes=2, seconds=30)
    due(engine)
    assert engine.notifier.shown == ["AWS login me can no longer be renewed"]
    clock.advance(seconds=31)
    due(engine)
    assert engine.notifier.shown[1:] == ["AWS login me expires in 1m"]
    # the notification's "Sign in again": the same-device sign-in of `aws login` (the browser is fetch.py)
    old = access_key(home)
    engine.notifier.callbacks[-1]("sign-in").result(timeout=60)
    assert engine.wait_idle()
    view = login_view(engine)
    assert view.state == VALID and view.problem is None and access_key(home) != old
    assert engine.scheduler.deadline((LOGIN_RENEW, "me")) == view.expires_at - timedelta(minutes=5)
    engine.sign_out("me").result(timeout=60)
    assert engine.wait_idle()
    assert not cache_path(home).exists() and login_view(engine).state == SIGNED_OUT


def test_the_menu_shows_a_login_profile_by_name_without_what_it_refuses(login_env, home, engine_for):
    clock = FakeClock(login_env)
    cli_style_sign_in(login_env, home, clock.now + timedelta(minutes=15))
    engine = engine_for(clock)
    engine.load()
    items = build(engine.state, Recorder())
    texts = [i.text for i in items]
    assert "dev — signed out" in texts and any(t.startswith("me — 15m left, until ") for t in texts)
    assert "Sign in (dev)" in texts and "Sign out (me)" in texts
    assert "Sign in again (me)" not in texts  # it renews itself: sign in again only when expiring, expired or failing
    me = next(i for i in items if i.text == "me")
    actions = [i.text for i in me.children()]
    assert actions[0].startswith("Copy export lines")
    assert "Copy as auto-refreshing" in actions
    assert not {"Open console", "Write to credentials file", "Keep fresh in credentials file"} & set(actions)
    # asked anyway (the finder page, an old menu): the write is refused with its reason, the file untouched
    engine.write_credentials("me")
    assert engine.wait_idle()
    assert engine.state.message_failed and "would hide the `aws login` profile me" in engine.state.message
    assert not (home / ".aws" / "credentials").exists()


def test_a_renewal_that_cannot_reach_the_sign_in_service_backs_off_on_its_own(login_env, home, engine_for, monkeypatch):
    clock = FakeClock(login_env)
    cli_style_sign_in(login_env, home, clock.now + timedelta(minutes=15))
    engine = engine_for(clock)
    engine.load()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SIGNIN", "http://127.0.0.1:9")  # nothing listens there: the service is away
    clock.advance(minutes=10)
    assert (LOGIN_RENEW, "me") in due(engine)
    view = login_view(engine)
    assert view.state == "error" and view.problem.startswith("cannot renew:") and "cannot reach" in view.problem
    retry = engine.scheduler.deadline((LOGIN_RENEW, "me"))
    assert clock.now < retry <= clock.now + timedelta(seconds=1)  # its own backoff (retry_base 1 s), not the SSO jobs'
    assert engine.backoff.due(("renew", "me"), clock.now) == clock.now
    assert engine.notifier.shown == []  # tried again: no warning yet (the 2-minute one would come)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SIGNIN", login_env.url)
    clock.advance(seconds=1)
    assert (LOGIN_RENEW, "me") in due(engine)
    view = login_view(engine)
    assert view.state == VALID and view.problem is None and view.expires_at == clock.now + timedelta(minutes=15)
    assert engine.renewal_gaps() == [] and engine.notifier.shown == []

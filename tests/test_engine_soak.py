"""A property-based soak of the engine (issue 17): hypothesis drives the real Engine against the real
simulator over HTTP, on a fake clock, through time passing awake, sleeps, clock jumps both ways, outages
of the portal, of OIDC, of both, throttling, sign-ins and sign-outs here and elsewhere, rotating refresh
tokens, and config and settings files written in place: whole, half-written, emptied, garbage, or valid
but odd (`acme` beside `acme:dev`). After every step the invariants below must hold.

The default run takes about a minute here and is the same every time; SOAK_EXAMPLES and SOAK_STEPS make
it longer, SOAK_RANDOM=1 makes hypothesis choose afresh.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import urllib.request
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

from conftest import BROWSERS, START_URL, standard_config
from test_engine import FakeClock, due
from tray.core.engine.engine import Engine
from tray.core.engine.scheduler import Scheduler
from tray.core.errors import TrayError
from tray.core.identity.config import AwsConfig
from tray.core.identity.sessions import renew, session_status
from tray.core.identity.signin import SignInOptions, login, logout
from tray.simulator import Simulator, SimulatorOptions

EXAMPLES = int(os.environ.get("SOAK_EXAMPLES", "50"))
STEPS = int(os.environ.get("SOAK_STEPS", "30"))
DEAD = "http://127.0.0.1:9"  # nothing listens there: an endpoint that is away
THRESHOLDS = (30, 10, 2)
CALLS_PER_MINUTE = 6  # more AWS calls than this per simulated minute (plus a few per step) is a tight loop
NAMES = ("dev", "acme", "acme:dev")


class Notes:
    """Notifications, each with the expiry of its session's token as the engine held it then."""

    available = True

    def __init__(self, clock):
        self.clock, self.engine, self.shown = clock, None, []

    def close(self, tag):
        pass

    def notify(self, title, body, actions, on_action, tag=None, urgency=None):  # called on the engine thread
        expiry = None
        for name, s in self.engine._sessions.items():
            if title.startswith(f"AWS session {name} expires") and s.token is not None:
                expiry = (name, s.token.expires_at)
        self.shown.append((title, expiry, self.clock()))


def config_text(sim, variant: str) -> str:
    extra = "".join(f"\n[sso-session {n}]\nsso_start_url = {START_URL}\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n"
                    for n in ("acme", "acme:dev"))
    return {
        "all": standard_config(sim) + extra,
        "dev only": standard_config(sim),
        "all, edited": "# edited by hand\n" + standard_config(sim) + extra + "\n",
    }[variant]


def fetch(url):
    """The browser of a sign-in made elsewhere (the simulator approves at once)."""
    urllib.request.urlopen(url, timeout=30).read()


class TraySoak(RuleBasedStateMachine):
    """One tray's life. `context` (set by the test) holds pytest's monkeypatch and a folder for homes."""

    context: SimpleNamespace

    def __init__(self):
        super().__init__()
        ctx = self.context
        self.home = Path(tempfile.mkdtemp(dir=ctx.homes))
        self.sim = Simulator(SimulatorOptions(auto_approve=True, device_interval=1), host="127.0.0.1", port=0).start()
        env = {"HOME": self.home, "XDG_CONFIG_HOME": self.home / ".config", "XDG_CACHE_HOME": self.home / ".cache",
               "XDG_RUNTIME_DIR": self.home / ".run", "AWS_CONFIG_FILE": self.home / ".aws" / "config",
               "AWS_ENDPOINT_URL_SSO": self.sim.url, "AWS_ENDPOINT_URL_SSO_OIDC": self.sim.url,
               "BROWSER": f"{sys.executable} {BROWSERS / 'fetch.py'} %s"}
        for key, value in env.items():
            ctx.monkeypatch.setenv(key, str(value))
        self.config_path = self.home / ".aws" / "config"
        self.config_path.parent.mkdir(parents=True)
        self.config_path.write_text(config_text(self.sim, "all"), encoding="utf-8")
        self.settings_path = self.home / ".config" / "sso-tray" / "settings.json"
        self.settings_path.parent.mkdir(parents=True)
        self.good_config = AwsConfig.load()
        self.sessions = dict(self.good_config.sessions)  # what other programs sign in to, whatever the config says now
        self.clock = FakeClock(self.sim)
        self.notes = Notes(self.clock)
        self.engine = Engine(clock=self.clock, scheduler=Scheduler(self.clock), notifier=self.notes,
                             copy=lambda text, after: None, retry_base=1, watch_interval=None)
        self.notes.engine = self.engine
        self.futures = []
        self.down: set[str] = set()  # "portal", "oidc"
        self.calls_seen, self.minutes_seen = 0, 0.0

    def teardown(self):
        self.engine.stop()
        self.sim.stop()
        for f in self.futures:
            f.result(timeout=10)  # every future resolves, stopped or not

    # --- helpers ------------------------------------------------------------------------------------

    def session(self, name):
        return self.sessions[name]

    def calls(self) -> int:
        return sum(self.sim.calls().values()) + sum(self.sim.throttled().values())

    def settle(self):
        for _ in range(2):  # a config that lost sessions is believed at the second look
            self.engine.check()
            assert self.engine.wait_idle(60)
        due(self.engine)

    def act(self, future, timeout=60):
        self.futures.append(future)
        future.result(timeout=timeout)

    def walk(self, minutes: int):
        """Time goes by with the tray awake: every deadline on the way runs when it falls due."""
        until = self.clock() + timedelta(minutes=minutes)
        stuck = 0
        while True:
            nxt = self.engine.scheduler.next_deadline()
            if nxt is None or nxt > until:
                break
            stuck = stuck + 1 if nxt <= self.clock() else 0
            assert stuck < 20, f"work falls due again and again at {self.clock()}: {self.engine.scheduler.keys()}"
            if nxt > self.clock():
                self.clock.advance(seconds=(nxt - self.clock()).total_seconds())
            due(self.engine)
            assert self.engine.renewal_gaps() == []
        self.clock.advance(seconds=(until - self.clock()).total_seconds())
        self.minutes_seen += minutes

    def set_down(self, down: set[str]):
        self.down = down
        self.context.monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", DEAD if "portal" in down else self.sim.url)
        self.context.monkeypatch.setenv("AWS_ENDPOINT_URL_SSO_OIDC", DEAD if "oidc" in down else self.sim.url)

    def write_in_place(self, path: Path, data: bytes):
        with open(path, "r+b" if path.exists() else "wb") as f:  # as editors and `aws configure set` write
            f.truncate(0)
            f.write(data)

    # --- rules --------------------------------------------------------------------------------------

    @initialize(signed_in=st.lists(st.sampled_from(NAMES), unique=True))
    def start(self, signed_in):
        for name in signed_in:
            login(self.session(name), SignInOptions(opener=fetch, timeout=30))
        self.engine.load()
        self.settle()

    @rule(minutes=st.one_of(st.integers(1, 30), st.integers(30, 240)))
    def time_passes_awake(self, minutes):
        self.walk(minutes)
        self.settle()

    @rule(hours=st.sampled_from([1, 8, 30, 72]))
    def laptop_sleeps(self, hours):
        self.clock.advance(hours=hours)  # the timer does not run while asleep; the engine notices on waking
        self.minutes_seen += hours * 60
        self.settle()

    @rule(minutes=st.integers(-180, 180).filter(lambda m: m != 0))
    def clock_is_set(self, minutes):
        self.clock.now += timedelta(minutes=minutes)  # this machine's clock only: AWS's does not move
        self.settle()

    @rule(which=st.sampled_from([frozenset({"portal"}), frozenset({"oidc"}), frozenset({"portal", "oidc"})]))
    def network_goes(self, which):
        self.set_down(set(which))
        self.settle()

    @precondition(lambda self: self.down)
    @rule()
    def network_returns(self):
        self.set_down(set())
        self.settle()
        self.walk(10)
        self.settle()
        now = self.clock()
        for name, s in self.engine._sessions.items():  # renewed within 10 minutes of the network's return
            if s.token is not None and s.renewable(now) and s.renewing is None:
                assert s.token.is_valid(now), (name, s.token.expires_at, now, s.problem)
                assert self.engine.scheduler.deadline(("renew", name)) > now, (name, s.problem)

    @rule(fraction=st.sampled_from([0.0, 0.3]))
    def throttling(self, fraction):
        self.sim.options.throttle = fraction
        self.sim.options.seed = 7

    @rule(on=st.booleans())
    def rotating_refresh_tokens(self, on):
        self.sim.options.rotate_refresh_tokens = on

    @rule(name=st.sampled_from(NAMES))
    def sign_in_here(self, name):
        if name not in self.engine._sessions:
            return
        done = self.engine.sign_in(name)
        self.futures.append(done)
        if "oidc" in self.down:  # the browser shows an error page: the person gives up
            self.engine.cancel_sign_in(name)
        done.result(timeout=60)
        self.settle()

    @rule(name=st.sampled_from(NAMES))
    def sign_out_here(self, name):
        if name in self.engine._sessions:
            self.act(self.engine.sign_out(name))
        self.settle()

    @rule(name=st.sampled_from(NAMES), what=st.sampled_from(["sign in", "sign out", "renew"]))
    def elsewhere(self, name, what):
        try:
            if what == "sign in" and "oidc" not in self.down:
                login(self.session(name), SignInOptions(opener=fetch, timeout=30))
            elif what == "sign out":
                logout(self.session(name))
            elif what == "renew":
                renew(self.session(name), self.clock(), window=timedelta(days=1))
        except TrayError:
            pass  # the other program's problem (signed out, the network away), not the tray's
        self.settle()

    @rule(profile=st.sampled_from(["dev-admin", "dev-read"]), what=st.sampled_from(["copy", "write", "pin"]))
    def person_uses_a_profile(self, profile, what):
        if profile not in self.engine._roles:
            return
        action = {"copy": self.engine.copy_export, "write": self.engine.write_credentials, "pin": self.engine.toggle_pinned}[what]
        self.act(action(profile))
        self.settle()

    @rule(variant=st.sampled_from(["all", "dev only", "all, edited"]),
          damage=st.sampled_from(["whole", "half", "empty", "garbage"]), cut=st.floats(0.05, 0.95), junk=st.binary(max_size=40),
          finished=st.booleans())
    def config_written(self, variant, damage, cut, junk, finished):
        text = config_text(self.sim, variant).encode()
        data = {"whole": text, "half": text[: int(len(text) * cut)], "empty": b"", "garbage": junk}[damage]
        self.write_in_place(self.config_path, data)
        self.engine.check().result(timeout=30)  # one look: perhaps the file caught half-written
        if damage != "whole" and finished:
            self.write_in_place(self.config_path, text)  # the writer finishes (else: emptied or broken for good)
        self.settle()
        try:
            self.good_config = AwsConfig.load()
        except TrayError:
            pass  # the tray keeps the last good one, and shows the problem

    @rule(body=st.sampled_from([
        {"pinned": ["dev-admin"]}, {"favourites": ["dev-read"], "pinned": []}, {},
        {"pinned": [{"profile": "dev-admin"}], "favourites": ["dev-read", 7]}, {"recent": "dev-admin"},
    ]), damage=st.sampled_from(["whole", "half", "empty", "garbage"]))
    def settings_written(self, body, damage):
        text = json.dumps(body | {"warn_minutes": list(THRESHOLDS)}).encode()
        data = {"whole": text, "half": text[: len(text) // 2], "empty": b"", "garbage": b"{{not json"}[damage]
        self.write_in_place(self.settings_path, data)
        self.settle()

    # --- invariants ---------------------------------------------------------------------------------

    @invariant()
    def the_engine_thread_is_alive(self):
        assert self.engine._loop.thread.is_alive()

    @invariant()
    def every_future_resolved(self):
        assert all(f.done() for f in self.futures)

    @invariant()
    def the_state_is_what_status_computes_from_disk(self):
        try:
            config = AwsConfig.load()
        except TrayError:
            config = self.good_config  # unparsable: the tray shows the last good config, with the problem
            assert self.engine.state.problem
        state, now = self.engine.state, self.clock()
        assert [v.name for v in state.sessions] == list(config.sessions)
        for view in state.sessions:
            status, _ = session_status(config.sessions[view.name], now, renew_due=False)
            assert (view.status, view.expires_at) == (status.state, status.expires_at), view

    @invariant()
    def every_renewable_session_has_its_renewal_scheduled(self):
        assert self.engine.renewal_gaps() == []

    @invariant()
    def no_warning_twice_for_one_expiry(self):
        bands = set()
        for title, expiry, at in self.notes.shown:
            if title.startswith("AWS session") and expiry is not None:
                left = (expiry[1] - at).total_seconds() / 60
                band = min((m for m in THRESHOLDS if left <= m), default=None)
                assert (expiry, band) not in bands, self.notes.shown
                bands.add((expiry, band))

    @invariant()
    def no_tight_loop(self):
        calls = self.calls()
        assert calls - self.calls_seen <= 60 + CALLS_PER_MINUTE * max(self.minutes_seen, 0), (calls - self.calls_seen, self.minutes_seen)
        self.calls_seen, self.minutes_seen = calls, 0.0


@pytest.fixture
def soak_context(home, tmp_path, monkeypatch):
    import botocore.endpoint

    # botocore pauses between its retries in real seconds; here time is the fake clock's, so the pauses
    # are skipped (every attempt still reaches the simulator, or fails to)
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=lambda seconds: None))
    homes = tmp_path / "homes"
    homes.mkdir()
    return SimpleNamespace(monkeypatch=monkeypatch, homes=homes)


def test_the_tray_survives_whatever_happens(soak_context):
    TraySoak.context = soak_context
    run_state_machine_as_test(TraySoak, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
        suppress_health_check=list(HealthCheck), derandomize=not os.environ.get("SOAK_RANDOM"),
    ))

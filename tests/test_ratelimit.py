"""The adaptive rate limiter against model servers on a fake clock: a token bucket it cannot see, random
refusals that have nothing to do with its pace, and nothing at all. (Against the simulator over HTTP, with
32 threads: tests/test_discovery.py and the benchmark.)"""

from __future__ import annotations

import heapq
import random

import pytest

from tray.core.identity.ratelimit import DOUBLING, INITIAL_RATE, AdaptiveRateLimiter

LATENCY = 0.05  # seconds from a call's start to its answer; the server sees it half-way
WORKERS = 16  # calls in flight at most, as discovery's thread pool


class Bucket:
    """A server's per-caller token bucket: `rate` tokens a second, holding at most `burst`."""

    def __init__(self, rate: float, burst: float):
        self.rate, self.burst = rate, burst
        self.tokens, self.last = burst, None

    def __call__(self, at: float) -> bool:
        if self.last is not None:
            self.tokens = min(self.burst, self.tokens + (at - self.last) * self.rate)
        self.last = at
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Model:
    """`WORKERS` callers through one limiter, as a discrete-event model on a fake clock: answers are
    reported to the limiter in time order, also while a caller waits for its turn."""

    def __init__(self, admit, limiter: AdaptiveRateLimiter | None = None):
        self.admit, self.now = admit, 100.0
        self.limiter = limiter or AdaptiveRateLimiter(clock=lambda: self.now, wait=self.wait)
        self.flying: list[tuple[float, float, bool]] = []  # (answered at, sent, admitted)
        self.calls = self.ok = self.throttled = 0

    def wait(self, seconds: float) -> None:  # the limiter's wait: returns early when an answer comes
        if self.flying and self.flying[0][0] <= self.now + seconds:
            self.answer()
        else:
            self.now += seconds

    def answer(self) -> None:
        answered, sent, admitted = heapq.heappop(self.flying)
        self.now = max(self.now, answered)
        if admitted:
            self.ok += 1
            self.limiter.success(sent)
        else:
            self.throttled += 1
            self.limiter.throttled(sent)

    def run(self, successes: int) -> float:
        """Calls until `successes` more got through; the seconds that took."""
        started, target = self.now, self.ok + successes
        while self.ok < target:
            while self.flying and (len(self.flying) >= WORKERS or self.flying[0][0] <= self.now):
                self.answer()
            sent = self.limiter.acquire()
            self.calls += 1
            heapq.heappush(self.flying, (sent + LATENCY, sent, self.admit(sent + LATENCY / 2)))
        return self.now - started


def drive(admit, successes: int):
    model = Model(admit)
    seconds = model.run(successes)
    return model.limiter, model.calls, model.throttled, seconds


def test_learns_a_token_bucket_it_cannot_see():
    limiter, calls, throttled, seconds = drive(Bucket(rate=20, burst=20), 300)
    floor = (300 - 20) / 20  # the burst is free
    assert throttled / calls < 0.05
    assert seconds < 1.15 * floor
    assert 17 < limiter.limit < 23 and limiter.rate < 20


def test_a_bucket_smaller_than_a_burst_of_calls():
    limiter, calls, throttled, seconds = drive(Bucket(rate=5, burst=5), 300)
    assert throttled / calls < 0.1
    assert seconds < 1.15 * (300 - 5) / 5


@pytest.mark.parametrize("seed", range(8))
def test_random_refusals_do_not_slow_the_pace(seed):
    """A fifth of all calls refused whatever the pace: retried, never a reason to slow down."""
    rng = random.Random(seed)
    limiter, calls, throttled, seconds = drive(lambda at: rng.random() >= 0.2, 2000)
    assert 0.15 < throttled / calls < 0.25
    assert 0.1 < limiter.baseline < 0.45  # (measured when throttling looked like more: biased upwards)
    assert seconds < 2500 / (WORKERS / LATENCY) * 2  # near the pace of all workers, never held back for long


def test_without_throttling_the_pace_doubles_every_quarter_second():
    limiter, _, throttled, seconds = drive(lambda at: True, 100)
    assert throttled == 0
    assert limiter.rate > INITIAL_RATE * 2 ** (seconds / DOUBLING / 2)


def test_a_limit_that_is_raised_is_found_again():
    bucket = Bucket(rate=10, burst=10)
    model = Model(bucket)
    model.run(100)
    bucket.rate = 40  # the server now allows four times as much
    model.run(1200)
    assert model.limiter.rate > 25  # (was 9.2 under the old limit)


def test_a_call_that_failed_is_not_waited_for():
    model = Model(lambda at: True)
    model.run(20)
    while model.flying:
        model.answer()
    limiter = model.limiter
    first, second = limiter.acquire(), limiter.acquire()
    limiter.answered(second)  # an error: no success or throttle will ever be reported for it
    limiter.throttled(first)  # nothing else in flight to look at: a cut, on trial
    assert limiter.limit is not None and not limiter._in_flight

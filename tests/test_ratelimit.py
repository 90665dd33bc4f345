"""The adaptive rate limiter against model servers on a fake clock: a token bucket it cannot see, random
refusals that have nothing to do with its pace, and nothing at all. (Against the simulator over HTTP, with
32 threads: tests/test_discovery.py and the benchmark.)"""

from __future__ import annotations

import random

from tray.core.ratelimit import DOUBLING, INITIAL_RATE, AdaptiveRateLimiter

LATENCY = 0.005  # one call at a time, so at most 200 calls/s


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        self.now += seconds


class Bucket:
    """A server's per-caller token bucket: `rate` tokens a second, holding at most `burst`."""

    def __init__(self, clock: Clock, rate: float, burst: float):
        self.clock, self.rate, self.burst = clock, rate, burst
        self.tokens, self.last = burst, clock()

    def __call__(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def drive(admit, clock: Clock, successes: int) -> tuple[AdaptiveRateLimiter, int, int, float]:
    """Calls through the limiter until `successes` got through: (limiter, calls, throttled, seconds)."""
    limiter = AdaptiveRateLimiter(clock=clock, wait=clock.wait)
    started, calls, throttled = clock(), 0, 0
    while calls - throttled < successes:
        sent = limiter.acquire()
        clock.now += LATENCY / 2
        ok = admit()
        clock.now += LATENCY / 2
        calls += 1
        if ok:
            limiter.success(sent)
        else:
            throttled += 1
            limiter.throttled(sent)
    return limiter, calls, throttled, clock() - started


def test_learns_a_token_bucket_it_cannot_see():
    clock = Clock()
    limiter, calls, throttled, seconds = drive(Bucket(clock, rate=20, burst=20), clock, 300)
    floor = (300 - 20) / 20  # the burst is free
    assert throttled / calls < 0.05
    assert seconds < 1.15 * floor
    assert 17 < limiter.limit < 23 and limiter.rate < 20


def test_a_bucket_smaller_than_a_burst_of_calls():
    clock = Clock()
    limiter, calls, throttled, seconds = drive(Bucket(clock, rate=5, burst=5), clock, 100)
    assert throttled / calls < 0.1
    assert seconds < 1.15 * (100 - 5) / 5


def test_random_refusals_do_not_slow_the_pace():
    """A fifth of all calls refused whatever the pace: retried, never a reason to slow down."""
    clock, rng = Clock(), random.Random(3)
    limiter, calls, throttled, seconds = drive(lambda: rng.random() >= 0.2, clock, 2000)
    assert 0.15 < throttled / calls < 0.25
    assert limiter.limit is None and 0.1 < limiter.baseline < 0.35
    assert seconds < 2000 / 200 * 1.5  # near the pace of one call at a time, never held back for long


def test_without_throttling_the_pace_doubles_every_quarter_second():
    clock = Clock()
    limiter, _, throttled, seconds = drive(lambda: True, clock, 100)
    assert throttled == 0
    assert limiter.rate > INITIAL_RATE * 2 ** (seconds / DOUBLING / 2)


def test_a_limit_that_is_raised_is_found_again():
    clock = Clock()
    bucket = Bucket(clock, rate=10, burst=10)
    drive_limiter, *_ = drive(bucket, clock, 100)
    bucket.rate = 40  # the server now allows four times as much
    limiter = drive_limiter
    for _ in range(1500):
        sent = limiter.acquire()
        clock.now += LATENCY
        (limiter.success if bucket() else limiter.throttled)(sent)
    assert limiter.rate > 25

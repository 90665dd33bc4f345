"""Pacing many calls against a rate limit we cannot see.

Calls are paced at `rate` calls a second. A server's rate limit is a token bucket: a burst, then a
steady refill. It shows itself only by throttling, and every throttle says the same thing: the bucket
was empty when that call arrived. Between two such moments, the calls that got through are exactly
what the bucket refilled, so successes counted from the first throttle, divided by the time since,
measure the limit, more precisely the longer the count runs. The limiter works with that:

- start: the rate doubles every `DOUBLING` seconds while it is what holds the calls back;
- only a throttle of a call sent since the rate last changed counts (older calls were paced by a rate
  that is gone); calls waiting for a turn given by an old rate ask again;
- the first throttle is looked at before anything is cut: new calls are held until the ones already in
  flight are answered. Against a bucket that has just run dry most of them are throttled too; a stray
  refusal (random rejections, a noisy neighbour) comes alone. Strays set the baseline, the throttled
  share that has nothing to do with our pace, above which throttling must rise to count again. (Before
  `MIN_BURST` successes there is too little to tell: a throttle then just halves the rate.)
- a rate limit sets the rate just under the estimated limit. The first estimate assumes the bucket held
  about a second's worth of calls (`BURST`); each later throttle refines it, weighing the first estimate
  as one more second of evidence; after `HORIZON` seconds the refined estimate becomes the prior, so a
  limit that changes is followed;
- afterwards the rate probes upwards (`PROBE` a second) after `QUIET` seconds without a throttle, so a
  limit that was underestimated, or raised, is found again; quickly (`PROBE_FIRST`) while the estimate
  rests on the assumption more than on a measurement, since a bucket that was not full at the start
  (a second run straight after the first) makes the first estimate low;
- a cut is judged by the calls sent after it: if they are throttled about as often as the latest calls
  were before it, the throttling has nothing to do with our pace; the cut is undone and that share
  becomes the baseline. Such throttling then costs retries, never the pace.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque

INITIAL_RATE = 40.0  # calls per second before anything is known
DOUBLING = 0.25  # seconds per doubling of the rate until the first throttle
STEP = 0.05  # seconds between changes of a growing rate
BURST = 1.0  # seconds of calls a server's bucket is assumed to hold, for the first estimate
CUT = 0.92  # the rate as a share of the estimated limit
QUIET = 5.0  # seconds without a throttle after which the rate probes for more
PROBE = 0.05  # relative growth per second while probing
HORIZON = 10.0  # seconds of throttles the estimate counts before it becomes the prior of the next
QUIET_FIRST, PROBE_FIRST = 1.0, 0.25  # the same while the limit rests mostly on the BURST assumption
JUDGE = 10  # calls sent after a cut that must complete before it is judged
SAME = 0.6  # a throttled share after a cut at least this share of the one before: not our pace
NOISE = 0.1  # throttled share after a cut below this always clears it; above the baseline: excess
RECENT = 40  # completions whose throttled share is compared with the baseline
SIGMAS = 2.5  # ... and how far above it, in standard deviations of that share, is excess
MIN_BURST = 10  # successes before a throttle is looked at; until then it halves the rate
LOOK = 1.0  # seconds new calls are held at most while the first throttle is looked at
LOOK_SHARE = 0.6  # share of the calls then in flight that must be throttled to show a rate limit


class AdaptiveRateLimiter:
    def __init__(self, rate: float = INITIAL_RATE, *, floor: float = 1.0, clock=time.monotonic, wait=None):
        self.rate = rate
        self.floor = floor
        self.limit: float | None = None  # estimated limit, calls per second
        self.baseline = 0.0  # throttled share that does not depend on our pace
        self._clock = clock
        self._cond = threading.Condition()
        self._wait = wait or self._cond.wait  # (timeout): returns early when the rate changes
        self._since: tuple[float, int] | None = None  # time and successes the limit is estimated from
        self._grown = self._changed = clock()
        self._next = 0.0  # when the next call may start
        self._plan = 0  # turns are planned at one rate; a new rate plans them again
        self._ok = 0  # successes so far
        self._first: tuple[float, int, float] | None = None  # time, successes and estimate the estimate counts from
        self._measured = False  # whether the estimate rests on a second throttle at least BURST later
        self._recent: deque[bool] = deque(maxlen=RECENT)  # throttled? of the latest completions
        self._trial: _Trial | None = None
        self._in_flight: list[float] = []  # send times of the calls not yet answered
        self._look: _Look | None = None

    def acquire(self) -> float:
        """Waits for the call's turn; returns the time it was sent, to pass to success()/throttled()."""
        with self._cond:
            while True:
                now = self._clock()
                if self._since is None:
                    self._since = (now, 0)
                start = max(now, self._next)
                if start > now:  # the pace is what holds calls back
                    self._grow(now)
                    start = max(now, self._next)
                self._next = start + 1.0 / self.rate
                plan = self._plan
                while now < start and plan == self._plan:
                    self._wait(start - now)
                    now = self._clock()
                if plan == self._plan:
                    self._in_flight.append(start)
                    return start
                # the rate changed while this call waited for a turn given by the old one: ask again

    def _grow(self, now: float) -> None:
        elapsed = now - self._grown
        if elapsed < STEP:
            return
        quiet, probe = (QUIET, PROBE) if self._measured else (QUIET_FIRST, PROBE_FIRST)
        if self.limit is None:
            self.rate *= 2 ** (elapsed / DOUBLING)
        elif now - self._changed >= quiet:
            self.rate *= (1 + probe) ** elapsed
        else:
            self._grown = now
            return
        self._replan(now, now)

    def _change(self, now: float, first: float) -> None:
        """A new rate decided on (not grown into): throttles of calls sent before now no longer count."""
        self._changed = now
        self._replan(now, first)

    def _replan(self, now: float, first: float) -> None:
        """A new rate: the waiting calls ask for turns again, the first of them at `first`."""
        self._grown = now
        self._next = first
        self._plan += 1
        self._cond.notify_all()

    def success(self, sent: float) -> None:
        with self._cond:
            self._ok += 1
            self._completed(sent, False)

    def answered(self, sent: float) -> None:
        """An answer that says nothing about the limit (an error): the call is no longer in flight."""
        with self._cond:
            self._in_flight.remove(sent)

    def throttled(self, sent: float) -> None:
        with self._cond:
            self._completed(sent, True)
            if sent < self._changed:  # paced by a rate that is gone
                return
            if self.baseline and not self._excess():
                return  # no more than the throttling that has nothing to do with us
            now = self._clock()
            if self._first is None and self._ok - self._since[1] < MIN_BURST:
                # too few calls through to tell a small bucket from a stray refusal: just back off
                self.rate = max(self.floor, self.rate / 2)
                self._change(now, now + 1.0 / self.rate)
                return
            if self._look is not None:
                return  # the look under way decides
            if self.limit is not None and not self.baseline:  # a known limit, and nothing else throttles
                self._cut(sent)
                return
            # a first sign of a limit, or throttling above the baseline: hold back new calls until those
            # already sent show how often they are throttled, which tells a rate limit (most of them)
            # from stray refusals
            pending = sum(t > sent for t in self._in_flight)
            if pending:
                self._look = _Look(sent, now, pending)
                self._change(now, now + LOOK)
            elif not self.baseline:  # nothing to look at: take it for a limit, on trial
                self._cut(sent)

    def _excess(self) -> bool:
        """Whether the latest completions were throttled clearly more often than the baseline."""
        n, b = len(self._recent), self.baseline
        return sum(self._recent) / n > b + max(NOISE, SIGMAS * math.sqrt(b * (1 - b) / n))

    def _cut(self, sent: float) -> None:
        now = self._clock()
        if self._first is None:
            since, ok = self._since
            estimate = (self._ok - ok) / (now - since + BURST)
            self._first = (now, self._ok, estimate)
        else:
            at, ok, prior = self._first
            estimate = (self._ok - ok + prior * BURST) / (now - at + BURST)
            self._measured = now - at >= BURST  # more evidence than assumption
            if now - at >= HORIZON:  # a limit can change: older evidence becomes the prior
                self._first = (now, self._ok, estimate)
        if self._trial is None:
            self._trial = _Trial(self.rate, self.limit, now, sum(self._recent) / len(self._recent))
        self.limit = estimate
        self.rate = max(self.floor, CUT * estimate)
        self._change(now, now + 1.0 / self.rate)  # the bucket is empty: wait for a token

    def _completed(self, sent: float, throttled: bool) -> None:
        self._in_flight.remove(sent)
        self._recent.append(throttled)
        look = self._look
        if look is not None and look.sent < sent < look.at:
            look.outcomes.append(throttled)
            if len(look.outcomes) == look.pending:
                self._look = None
                if sum(look.outcomes) >= max(1, LOOK_SHARE * look.pending):
                    self._cut(look.sent)
                else:
                    self.baseline = sum(self._recent) / len(self._recent)
                    self._replan(self._clock(), self._clock())
        trial = self._trial
        if trial is None:
            return
        if sent >= trial.cut:
            trial.after.append(throttled)
        if len(trial.after) < JUDGE:
            return
        self._trial = None
        share = sum(trial.after) / len(trial.after)
        if share > NOISE and share >= SAME * trial.before:  # cutting did not help: undo it
            self.rate, self.limit, self.baseline = trial.rate, trial.limit, share
            now = self._clock()
            self._first, self._since, self._measured = None, (now, self._ok), False  # those throttles measured nothing
            self._change(now, now)


class _Look:
    """The first throttle being looked at: the calls sent after the throttled one, before `at`."""

    def __init__(self, sent: float, at: float, pending: int):
        self.sent, self.at, self.pending = sent, at, pending
        self.outcomes: list[bool] = []


class _Trial:
    """A cut being judged: the rate and limit before it, the throttled share of the latest completions
    then, and the outcomes of the calls sent after it."""

    def __init__(self, rate: float, limit: float | None, cut: float, before: float):
        self.rate, self.limit, self.cut, self.before = rate, limit, cut, before
        self.after: list[bool] = []


def backoff_delay(attempt: int, base: float = 0.2, cap: float = 2.0) -> float:
    """Exponential backoff with jitter: attempt 0 waits about `base`, doubling up to `cap`."""
    return min(cap, base * (2 ** attempt)) * random.uniform(0.5, 1.0)

"""Pacing many calls against a rate limit we cannot see: a token bucket whose rate adapts.

Window by window (a quarter second, or longer until it holds enough calls) the limiter compares the
share of throttled calls with what it expects:
- no excess throttling: the rate grows, by half per window until the first real throttle (slow start),
  then by a little (additive increase); it only grows while the calls actually use it;
- excess throttling: the rate is cut to just under the success rate achieved, which is where a server's
  rate limit shows itself, and the next window is left to settle;
- a cut that left the throttled share about where it was and lost successes shows that the throttling
  has nothing to do with our rate (random rejections, a noisy neighbour): against a rate limit, fewer
  calls get as many through. The cut is undone and that share becomes the expected baseline, so such
  throttling costs retries but never stalls the work.
"""

from __future__ import annotations

import random
import threading
import time

INITIAL_RATE = 50.0  # calls per second before anything is known
WINDOW = 0.25  # seconds per measurement window, at least
MIN_SAMPLES = 20  # calls a window needs before it is judged
SLOW_START = 1.5  # growth per window until the first real throttle
RAISE = 0.05  # calls/s added per window afterwards
CUT = 0.95  # a throttled window sets the rate to this share of the success rate achieved
TOLERANCE = 0.02  # throttled share above the baseline that counts as excess
SAME = (0.5, 1.5)  # a throttled share in this ratio to the one before a cut means "unchanged"
LOST = 0.9  # a cut that leaves fewer successes per second than this share of before lost throughput


class AdaptiveRateLimiter:
    def __init__(self, rate: float = INITIAL_RATE, *, floor: float = 1.0, clock=time.monotonic, sleep=time.sleep):
        self.rate = rate
        self.floor = floor
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0  # when the next call may start
        self._window_start = clock()
        self._ok = self._throttled = 0
        self._slow_start = True
        self._settling = True  # the first window mixes in the calls still in flight
        self._trial: tuple[float, float, float, bool] | None = None  # rate, throttled share, successes/s, slow start: before the cut
        self.baseline = 0.0  # throttled share that does not depend on our rate

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            self._close_window(now)
            start = max(now, self._next)
            self._next = start + 1.0 / self.rate
        if start > now:
            self._sleep(start - now)

    def success(self) -> None:
        with self._lock:
            self._ok += 1

    def throttled(self) -> None:
        with self._lock:
            self._throttled += 1

    def _close_window(self, now: float) -> None:
        elapsed = now - self._window_start
        if elapsed < WINDOW or self._ok + self._throttled < MIN_SAMPLES:
            return
        ok, throttled = self._ok, self._throttled
        self._window_start, self._ok, self._throttled = now, 0, 0
        if self._settling:  # calls sent before the last cut are still landing
            self._settling = False
            return
        done = ok + throttled  # judged by the calls that completed in the window
        if done == 0:
            return
        share = throttled / done
        ok_rate = ok / elapsed
        if self._trial is not None:
            before, share_before, ok_before, slow = self._trial
            self._trial = None
            unchanged = SAME[0] * share_before <= share <= SAME[1] * share_before + TOLERANCE
            if unchanged and ok_rate < LOST * ok_before:  # the cut did not help: undo it
                self.rate, self.baseline, self._slow_start = before, (share + share_before) / 2, slow
                return
        in_use = done / elapsed >= 0.5 * self.rate  # below that, our pace is not what the server sees
        excess = share - self.baseline > max(TOLERANCE, 0.5 * self.baseline)
        if excess and in_use:
            self._trial = (self.rate, share, ok_rate, self._slow_start)
            self.rate = max(self.floor, ok_rate * CUT)
            self._slow_start = False
            self._settling = True
            self._next = now + 1.0 / self.rate
        elif not excess and in_use:  # only a rate in use is worth raising
            self.rate = self.rate * SLOW_START if self._slow_start else self.rate + RAISE


def backoff_delay(attempt: int, base: float = 0.2, cap: float = 5.0) -> float:
    """Exponential backoff with jitter: attempt 0 waits about `base`, doubling up to `cap`."""
    return min(cap, base * (2 ** attempt)) * random.uniform(0.5, 1.0)

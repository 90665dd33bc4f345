"""Pacing many calls against a rate limit we cannot see: a token bucket whose rate adapts.

Until the first throttle the bucket is open. A throttle sets the rate just under what was actually
achieved in the last second (the server's limit shows itself there) and cuts it further on repeated
throttles; every success raises it a little, so a server that allows more gets more.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque


class AdaptiveRateLimiter:
    def __init__(self, rate: float | None = None, *, floor: float = 1.0, clock=time.monotonic, sleep=time.sleep):
        self.rate = rate  # calls per second; None = no limit yet
        self.floor = floor
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0  # when the next call may start
        self._recent = deque()  # start times of successful calls in the last second

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            if self.rate is None:
                return
            start = max(now, self._next)
            self._next = start + 1.0 / self.rate
        wait = start - now
        if wait > 0:
            self._sleep(wait)

    def success(self) -> None:
        with self._lock:
            now = self._clock()
            self._recent.append(now)
            while self._recent and self._recent[0] < now - 1.0:
                self._recent.popleft()
            if self.rate is not None:
                self.rate += 0.2 / self.rate  # about +0.2 calls/s per second at steady state

    def throttled(self) -> None:
        with self._lock:
            now = self._clock()
            while self._recent and self._recent[0] < now - 1.0:
                self._recent.popleft()
            achieved = float(len(self._recent))
            if self.rate is None:
                self.rate = max(self.floor, achieved * 0.9)
            else:
                self.rate = max(self.floor, min(self.rate, achieved or self.rate) * 0.85)
            self._next = max(self._next, now + 1.0 / self.rate)


def backoff_delay(attempt: int, base: float = 0.2, cap: float = 5.0) -> float:
    """Exponential backoff with jitter: attempt 0 waits about `base`, doubling up to `cap`."""
    return min(cap, base * (2 ** attempt)) * random.uniform(0.5, 1.0)

"""Counting API calls, and the injected faults: random throttling and a per-caller rate limit."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

from .options import SimulatorOptions


class Traffic:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._throttled: Counter[str] = Counter()
        self._authorize: list[dict[str, str]] = []
        self._buckets: dict[str, tuple[float, float]] = {}  # caller -> (tokens, monotonic time)
        self._seed: object = object()  # never equal to an option value: seeds on first use
        self._rng = random.Random()

    # -- counters ----------------------------------------------------------------------------

    def record_call(self, operation: str) -> None:
        with self._lock:
            self._calls[operation] += 1

    def record_authorize(self, params: dict[str, str]) -> None:
        with self._lock:
            self._authorize.append(dict(params))

    def calls(self) -> dict[str, int]:
        with self._lock:
            return dict(self._calls)

    def throttled(self) -> dict[str, int]:
        with self._lock:
            return dict(self._throttled)

    def authorize_requests(self) -> list[dict[str, str]]:
        with self._lock:
            return [dict(p) for p in self._authorize]

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._throttled.clear()
            self._authorize.clear()

    # -- faults ------------------------------------------------------------------------------

    def admit(self, operation: str, caller: str, options: SimulatorOptions) -> bool:
        """False (and counted as throttled) when this call must be answered 429."""
        with self._lock:
            if options.seed != self._seed:
                self._seed = options.seed
                self._rng.seed(options.seed)
            throttle = options.throttle
            refused = throttle > 0 and self._rng.random() < throttle
            rate = options.rate_limit
            if not refused and rate:
                refused = not self._take_token(caller, float(rate))
            if refused:
                self._throttled[operation] += 1
            return not refused

    def _take_token(self, caller: str, rate: float) -> bool:
        """Token bucket: ``rate`` tokens a second, holding at most max(1, rate)."""
        capacity = max(1.0, rate)
        now = time.monotonic()
        tokens, last = self._buckets.get(caller, (capacity, now))
        tokens = min(capacity, tokens + (now - last) * rate)
        if tokens >= 1.0:
            self._buckets[caller] = (tokens - 1.0, now)
            return True
        self._buckets[caller] = (tokens, now)
        return False

"""One background timer that sleeps until the next deadline.

Deadlines are wall-clock times. The thread never sleeps longer than a minute, and compares against the
wall clock each time it wakes, so that after a laptop's sleep/resume everything that fell due runs
once, within a minute of waking; when nothing is due it wakes at most once a minute.
Time is a parameter: `run_due(now)` is what tests call with a fake clock.

A job's key is any hashable value; the engine uses tuples (`("renew", session_name)`), so no name can be
mistaken for the start of another's, whatever characters it holds.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Callable, Hashable

from tray.core.credentials import utcnow

log = logging.getLogger(__name__)
MAX_SLEEP = 60.0


class Scheduler:
    def __init__(self, clock: Callable[[], datetime] = utcnow, max_sleep: float = MAX_SLEEP):
        self.clock = clock
        self.max_sleep = max_sleep
        self._jobs: dict[Hashable, tuple[datetime, Callable[[], None]]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.wakeups = 0  # for tests and benchmarks: how often the thread woke

    def schedule(self, key: Hashable, when: datetime, job: Callable[[], None]) -> None:
        """Run `job` at `when` (replacing any job with the same key)."""
        with self._lock:
            self._jobs[key] = (when, job)
        self._wake.set()

    def cancel(self, key: Hashable) -> None:
        with self._lock:
            self._jobs.pop(key, None)

    def cancel_where(self, chosen: Callable[[Hashable], bool]) -> None:
        """Cancel every job whose key is `chosen`."""
        with self._lock:
            for key in [k for k in self._jobs if chosen(k)]:
                del self._jobs[key]

    def deadline(self, key: Hashable) -> datetime | None:
        with self._lock:
            entry = self._jobs.get(key)
        return entry[0] if entry else None

    def next_deadline(self) -> datetime | None:
        with self._lock:
            return min((when for when, _ in self._jobs.values()), default=None)

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._jobs)

    def run_due(self, now: datetime | None = None) -> list[Hashable]:
        """Run every job whose time has come (each once), and return their keys."""
        now = now or self.clock()
        with self._lock:
            due = sorted(((when, key, job) for key, (when, job) in self._jobs.items() if when <= now), key=lambda x: x[0])
            for _, key, _ in due:
                del self._jobs[key]
        for _, key, job in due:
            try:
                job()
            except Exception:  # a failing job must not stop the timer
                log.exception("scheduled job %s failed", key)
        return [key for _, key, _ in due]

    def seconds_to_sleep(self, now: datetime) -> float:
        upcoming = self.next_deadline()
        if upcoming is None:
            return self.max_sleep
        return max(0.0, min(self.max_sleep, (upcoming - now).total_seconds()))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stopped.is_set():
            self.run_due()
            self._wake.clear()
            self._wake.wait(self.seconds_to_sleep(self.clock()))
            self.wakeups += 1

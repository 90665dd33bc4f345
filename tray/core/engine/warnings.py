"""When to warn that a session is about to expire: each threshold once per session, louder at each.

A jump over several thresholds at once (the laptop slept through them) gives one warning, for the
nearest threshold, not one per missed threshold.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def due_warning(expires_at: datetime, thresholds: tuple[int, ...] | list[int], now: datetime, warned: set[int]) -> int | None:
    """The threshold (minutes) to warn for now, or None. Marks every crossed threshold in `warned`."""
    if now >= expires_at:
        return None
    crossed = [m for m in thresholds if now >= expires_at - timedelta(minutes=m)]
    fresh = [m for m in crossed if m not in warned]
    warned.update(crossed)
    return min(fresh) if fresh else None


def next_warning_time(expires_at: datetime, thresholds, now: datetime, warned: set[int]) -> datetime | None:
    """When the next not-yet-given warning falls due (None when none is left)."""
    times = [expires_at - timedelta(minutes=m) for m in thresholds if m not in warned]
    future = [t for t in times if t > now]
    if any(t <= now for t in times):
        return now
    return min(future, default=None)


URGENCIES = ("low", "normal", "critical")


def urgency(minutes: int, thresholds) -> str:
    """How loud the warning for `minutes` is: the last threshold critical, the one before normal, any
    earlier ones low."""
    later = sum(1 for m in thresholds if m < minutes)
    return URGENCIES[max(0, len(URGENCIES) - 1 - later)]

"""The engine's event loop: one thread applies events in order; slow work runs on workers.

Whoever wants something done posts an event (`post`); the loop thread applies events one at a time, in
the order they were posted, and after each calls `after_event` (the engine publishes its snapshot there).
Slow work (`work`) runs on a worker and comes back as an event, so whatever the work's outcome changes is
changed on the loop thread too; work that waits for a person (a sign-in waits for the browser up to ten
minutes) runs on a thread of its own, so it never holds a worker that a renewal or a copy needs.

Every call returns a Future that resolves once the event (and the work it started) has been applied, or
once the loop has stopped, whichever comes first: always. `wait_idle` waits until nothing is queued,
running or under way. Nothing an event does stops the loop: an exception while applying it or while
publishing after it is logged and reported, and the next event is applied.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

from tray.core.errors import TrayError

log = logging.getLogger(__name__)

_STOP = object()


class EventLoop:
    def __init__(
        self,
        *,
        on_error: Callable[[str], None],
        after_event: Callable[[], None],
        on_idle: Callable[[], None],
        idle_interval: float | None,
        workers: int,
        name: str = "engine",
    ):
        self._on_error, self._after_event, self._on_idle = on_error, after_event, on_idle
        self.idle_interval = idle_interval
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="action")
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self._busy = 0  # events queued or running, and work under way
        self._idle = threading.Condition()
        # held while deciding whether the loop still takes an item and putting it on the queue, and by
        # stop(): every item is put either before the stop marker (and then drained) or not at all
        self._taking = threading.Lock()
        self.stopped = False
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                item = self._events.get(timeout=self.idle_interval)
            except queue.Empty:
                if not self.stopped:
                    self._apply(Future(), self._on_idle, ())
                continue
            if item is _STOP:
                self._drain()
                return
            self._apply(*item)
            self._done_one()

    def _apply(self, done: Future, fn, args) -> None:
        try:
            result = fn(*args)
        except TrayError as e:
            self._report(str(e))
            result = None
        except Exception as e:  # a bug: keep running, say something useful
            log.exception("event %s failed", getattr(fn, "__name__", fn))
            self._report(describe_error(e))
            result = None
        try:
            self._after_event()
        except Exception as e:  # a bug while publishing: the picture is stale until the next event, no more
            log.exception("publishing after event %s failed", getattr(fn, "__name__", fn))
            self._report(describe_error(e))
        if isinstance(result, Future):  # the event started work: done when the work's outcome is applied
            result.add_done_callback(lambda f: settle(done, f))
        else:
            settle_value(done, result)

    def _report(self, message: str) -> None:
        try:
            self._on_error(message)
        except Exception:
            log.exception("reporting a failed event failed")

    def _drain(self) -> None:
        """After stop(): what is still queued is not applied, but its futures resolve and it is counted off."""
        while True:
            try:
                item = self._events.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                settle_value(item[0], None)
                self._done_one()

    def post(self, fn, *args) -> Future:
        """Apply `fn(*args)` on the loop thread, after every event posted before it."""
        done: Future = Future()
        if not self._put(done, fn, args):
            done.set_result(None)
        return done

    def _put(self, done: Future, fn, args) -> bool:
        """Queue an event and count it as busy; False (nothing queued) once the loop has stopped."""
        with self._taking:
            if self.stopped:
                return False
            with self._idle:
                self._busy += 1
            self._events.put((done, fn, args))
            return True

    def _done_one(self) -> None:
        with self._idle:
            self._busy -= 1
            if self._busy == 0:
                self._idle.notify_all()

    def work(self, work: Callable[[], object], then: Callable[[object, BaseException | None], object],
             own_thread: bool = False) -> Future:
        """Run `work()` on a worker (on a thread of its own with `own_thread`, for work that waits for a
        person); its outcome comes back as the event `then(result, error)`. The future resolves once that
        event has been applied."""
        done: Future = Future()
        with self._idle:
            self._busy += 1

        def run():
            try:
                outcome = (work(), None)
            except BaseException as e:  # noqa: BLE001 - handed to `then`, which decides
                outcome = (None, e)
            if not self._put(done, then, outcome):
                settle_value(done, None)
            self._done_one()

        def cancelled(f) -> None:  # stop() dropped it before it ran
            if f.cancelled():
                settle_value(done, None)
                self._done_one()

        try:
            if own_thread:
                threading.Thread(target=run, name="waits-for-a-person", daemon=True).start()
            else:
                self._pool.submit(run).add_done_callback(cancelled)
        except RuntimeError:  # stopping: the pool takes no more work
            self._done_one()
            done.set_result(None)
        return done

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until no event is queued or running and no work is under way. True if idle."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def stop(self) -> None:
        """Apply nothing more; what is queued or under way resolves its future without being applied."""
        with self._taking:
            self.stopped = True
            self._events.put(_STOP)
        self._pool.shutdown(wait=False, cancel_futures=True)


def settle(done: Future, inner: Future) -> None:
    if done.done():
        return
    if inner.exception() is not None:
        done.set_exception(inner.exception())
    else:
        done.set_result(inner.result())


def settle_value(done: Future, value) -> None:
    if not done.done():
        if isinstance(value, BaseException):
            done.set_exception(value)
        else:
            done.set_result(value)


def describe_error(error: BaseException) -> str:
    """An error as the menu shows it: ours say what happened; anything else is a bug, named by its type."""
    return str(error) if isinstance(error, TrayError) else f"internal error ({type(error).__name__})"

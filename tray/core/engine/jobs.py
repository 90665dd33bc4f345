"""What falls due for each session, and when: the renewal, the hourly account listing, the expiry, the
warnings, the rewrites of pinned profiles, and the minute's tick; and what each one's outcome changes.

A part of the Engine (it is mixed into the class): these methods run on the engine thread. Each kind of job
has its own scheduler key and its own backoff (record.Backoff), so a failing listing never delays a
renewal; `_schedule_session` computes every job of a session afresh from its record after any change, and
`renewal_gaps` states the invariant the tests check after every event.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from datetime import timedelta

from tray.core.engine.loop import describe_error
from tray.core.engine.record import ACCOUNTS, EXPIRE, LOGIN_RENEW, PIN, RENEW, TICK, WARN, SessionRecord, of_session
from tray.core.engine.state import clock_time, describe_left
from tray.core.engine.warnings import due_warning, next_warning_time, urgency
from tray.core.errors import NotSignedIn
from tray.core.identity import accounts
from tray.core.identity.sessions import VALID as STATUS_VALID

log = logging.getLogger(__name__)

ACCOUNT_REFRESH = timedelta(hours=1)
TICK_EVERY = timedelta(minutes=1)


def notice_tag(name: str) -> str:
    """The tag of a session's one notification: each new one replaces the last."""
    return f"session:{name}"


class Jobs:
    def _reschedule_all(self) -> None:
        for name in list(self._sessions):
            self._schedule_session(name)
        for name in list(self._logins):
            self._schedule_login(name)
        self._schedule_tick()

    def _schedule_session(self, name: str) -> None:
        s = self._sessions.get(name)
        if s is None:
            return
        now = self.clock()
        sched = self.scheduler
        sched.cancel_where(of_session(name))
        t = s.token
        if s.noticed_for is not None and (t is None or t.expires_at != s.noticed_for):
            self._withdraw_notice(s)  # renewed, signed in again or out: what it said is no longer true
        if t is None:
            return  # signed out: the file watcher notices a sign-in made elsewhere
        valid = t.is_valid(now)
        # renew before the first warning would be due, so that a renewable session never warns; renewable
        # means at that time (the client registration may lapse before it)
        renew_at = max(now, t.expires_at - self._renew_lead(s))
        renewable = s.renewable(renew_at)
        if valid:
            sched.schedule((EXPIRE, name), t.expires_at, lambda: self._post(self._on_expiry, name))
        if renewable and s.renewing is None:
            sched.schedule((RENEW, name), self.backoff.due((RENEW, name), renew_at), lambda: self._post(self._renew, name))
        if not valid:
            return
        if s.warned_for != t.expires_at:
            s.warned, s.warned_for = set(), t.expires_at
        if not renewable or s.error:  # warn only where no renewal is going to save the session
            warn_at = next_warning_time(t.expires_at, self.settings.warn_minutes, now, s.warned)
            if warn_at is not None:
                sched.schedule((WARN, name), warn_at, lambda: self._post(self._on_warning, name))
        if s.refreshing is None:
            due = now if s.discovery is None else max(now, s.discovery.fetched_at + ACCOUNT_REFRESH)
            sched.schedule((ACCOUNTS, name), self.backoff.due((ACCOUNTS, name), due),
                           lambda: self._post(self._refresh_accounts, name))
        for profile in self.settings.pinned:
            p = self._roles.get(profile)
            if p is not None and p.session.name == name:
                when = self.backoff.due((PIN, name, profile), self._pin_due(profile, now))
                sched.schedule((PIN, name, profile), when, lambda prof=profile: self._post(self._write_pinned, prof))

    def renewal_gaps(self) -> list[str]:
        """The sessions (and `aws login` profiles) whose token is renewable but whose renewal is neither under way nor scheduled in
        time (before the expiry, or within the longest backoff once late). Always empty: the tests check
        it after every event."""
        def gaps() -> list[str]:
            now, late = self.clock(), timedelta(seconds=self.backoff.cap)
            found = []
            for name, s in self._sessions.items():
                t = s.token
                if t is None or s.renewing is not None or not s.renewable(max(now, t.expires_at - self._renew_lead(s))):
                    continue
                when = self.scheduler.deadline((RENEW, name))
                if when is None or when > max(t.expires_at, now + late):
                    found.append(name)
            for name, r in self._logins.items():  # `aws login` profiles alike
                if r.token is None or r.renewing is not None or not r.renewable():
                    continue
                when = self.scheduler.deadline((LOGIN_RENEW, name))
                if when is None or when > max(r.token.expires_at, now + late):
                    found.append(name)
            return found
        return self._post(gaps).result(timeout=60)

    def _renew_lead(self, s: SessionRecord) -> timedelta:
        lead = timedelta(minutes=max(self.settings.warn_minutes, default=15) + 1)
        return min(lead, s.lifetime / 2) if s.lifetime else lead

    def _schedule_tick(self) -> None:
        """Once a minute while a session is valid: the menu's "time left" text moves on."""
        now = self.clock()
        if any(s.status(now) == STATUS_VALID for s in [*self._sessions.values(), *self._logins.values()]):
            self.scheduler.schedule((TICK,), now + TICK_EVERY, lambda: self._post(self._tick))
        else:
            self.scheduler.cancel((TICK,))

    def _tick(self) -> None:
        self._schedule_tick()
        self._publish(force=True)

    def _on_expiry(self, name: str) -> None:
        s = self._sessions.get(name)
        if s is None:
            return
        self._read_token(s)
        if not s.renewable(self.clock()):  # a renewable one is renewed now (after a sleep, say): no news
            self._expired(s)
        self._schedule_session(name)
        self._schedule_tick()

    def _on_warning(self, name: str) -> None:
        s = self._sessions.get(name)
        if s is None or s.token is None:
            return
        now = self.clock()
        if s.token.is_valid(now) and s.warned_for == s.token.expires_at:
            minutes = due_warning(s.token.expires_at, self.settings.warn_minutes, now, s.warned)
            if minutes is not None:
                left = describe_left(s.token.expires_at - now)
                self._notice(s, f"AWS session {name} expires in {left}",
                             f"Sign in again to keep your AWS credentials working after {clock_time(s.token.expires_at)}.",
                             urgency(minutes, self.settings.warn_minutes))
        self._schedule_session(name)

    def _notice(self, s: SessionRecord, title: str, body: str, loudness: str, action: str = "Sign in again") -> None:
        """The session's one notification, replacing the one it has on screen; clicking it signs in."""
        if not self.settings.notifications or s.token is None:
            return
        name = s.session.name
        self.notifier.notify(title, body, {"sign-in": action}, lambda _action, n=name: self.sign_in(n),
                             tag=notice_tag(name), urgency=loudness)
        s.noticed_for = s.token.expires_at

    def _withdraw_notice(self, s: SessionRecord) -> None:
        s.noticed_for = None
        self.notifier.close(notice_tag(s.session.name))

    def _expired(self, s: SessionRecord) -> None:
        """The final notice, once per expiry, replacing the warnings."""
        t = s.token
        if t is None or t.is_valid(self.clock()) or s.expiry_told == t.expires_at:
            return
        s.expiry_told = t.expires_at
        self._notice(s, f"AWS session {s.session.name} has expired",
                     "Its AWS credentials no longer work: sign in to get new ones.", "critical", "Sign in")

    def _failed(self, s: SessionRecord, key) -> None:
        """A network action for the session failed: tried again after its backoff. The details (a URL,
        the error) go to the log; the menu says that AWS cannot be reached and when it is tried again."""
        self.backoff.failed(key)
        s.retry_at = self.backoff.due(key, self.clock())
        log.warning("%s: %s", s.session.name, s.problem)
        self._lost_connection(s)

    def retry_now(self, name: str) -> Future:
        """"Retry now": the session's failed network actions at once, not after their backoff."""
        def retry():
            for key, job in (((RENEW, name), self._renew), ((ACCOUNTS, name), self._refresh_accounts)):
                if self.backoff.failing(key):
                    self.backoff.succeeded(key)
                    job(name)
        return self._post(retry)

    def _lost_connection(self, s: SessionRecord) -> None:
        """A network action for the session failed: said once per expiry, when the session has only the
        warnings' minutes left (a renewal would otherwise still save it quietly), or has expired."""
        t, now = s.token, self.clock()
        if t is not None and not t.is_valid(now):
            return self._expired(s)
        if t is None or s.outage_told == t.expires_at:
            return
        if t.expires_at - now > timedelta(minutes=max(self.settings.warn_minutes, default=0)):
            return
        s.outage_told = t.expires_at
        self._notice(s, f"AWS session {s.session.name} expires in {describe_left(t.expires_at - now)}",
                     "sso-tray can't reach AWS to renew it; it keeps trying. Sign in again to keep your AWS credentials "
                     f"working after {clock_time(t.expires_at)}.", "critical")

    def _renew(self, name: str):
        from tray.core.identity.sessions import renew

        s = self._sessions.get(name)
        if s is None or s.renewing is not None:
            return s and s.renewing  # one renewal at a time: the one running goes on
        if not s.renewable(self.clock()):
            self._schedule_session(name)  # the warnings take over
            return None
        session, tried, window = s.session, s.token, self._renew_lead(s)
        self.scheduler.cancel((RENEW, name))

        def renewed(_token, error) -> None:
            s = self._sessions.get(name)
            if s is None or s.session != session:
                return
            s.renewing = None
            self._read_token(s)
            if isinstance(error, NotSignedIn):  # the refresh token no longer works: the session ends at expiry
                if s.token is not None and s.token.access_token == tried.access_token:
                    s.refused = tried.access_token
                s.problem, s.error = f"cannot renew: {error}", False
            elif error is not None:
                s.problem, s.error = f"cannot renew: {describe_error(error)}", True
                self._failed(s, (RENEW, name))
            elif s.token is not None and s.token.expires_at <= tried.expires_at:
                # Identity Center ends a sign-in at its session duration: a renewal then gives no more time,
                # so no more renewals; the warnings say when to sign in again
                s.refused = s.token.access_token
            elif s.token is not None:
                # at least this long: it sets how early the next renewal starts (half of it at most)
                s.lifetime = s.token.expires_at - self.clock()
            self._schedule_session(name)
            self._schedule_tick()

        s.renewing = self._work(lambda: renew(session, self.clock(), window), renewed)
        return s.renewing

    def refresh_accounts(self, name: str) -> Future:
        return self._post(self._refresh_accounts, name)

    def _refresh_accounts(self, name: str):
        s = self._sessions.get(name)
        if s is not None and s.refreshing is not None:
            return s.refreshing  # one listing at a time: the one running goes on
        if s is None or s.token is None or not s.token.is_valid(self.clock()):
            return None
        session, token = s.session, s.token
        self.scheduler.cancel((ACCOUNTS, name))

        def listed(discovery, error) -> None:
            s = self._sessions.get(name)
            if s is None or s.session != session:
                return
            s.refreshing = None
            if isinstance(error, NotSignedIn):  # the portal rejects a token the file says is valid
                self._read_token(s)
                s.problem = str(error)
                if s.token is not None and s.token.access_token == token.access_token:
                    self.backoff.failed((ACCOUNTS, name))  # not again at once
            elif error is not None:
                s.problem, s.error = describe_error(error), True
                self._failed(s, (ACCOUNTS, name))
            else:
                s.discovery, s.problem, s.error = discovery, None, False
                self.backoff.succeeded((ACCOUNTS, name))
                self._rebuild_roles()
            self._schedule_session(name)

        s.refreshing = self._work(lambda: accounts.discover(session, token, clock=self.clock), listed)
        return s.refreshing

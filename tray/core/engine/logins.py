"""`aws login` profiles (login_session) as sessions of their own, beside the SSO sessions: their cache file
followed like a token file (a refresh by the AWS CLI or an SDK is adopted), their 15-minute credentials renewed
before they end, a warning when a refresh is refused, and their sign-in and sign-out.

A part of the Engine (it is mixed into the class): these methods run on the engine thread; the refresh and the
sign-in run on workers (tray.core.identity.login) and come back as events. The cache file records no end of
the sign-in itself: a refused refresh is the first sign of it, and from then on the warnings say when the
credentials in hand end.
"""

from __future__ import annotations

import threading
from datetime import datetime

from tray.core.engine.loop import describe_error
from tray.core.engine.record import LOGIN_EXPIRE, LOGIN_RENEW, LOGIN_WARN, LoginRecord, of_login
from tray.core.engine.state import clock_time, describe_left
from tray.core.engine.warnings import due_warning, next_warning_time
from tray.core.errors import NotSignedIn
from tray.core.identity import login
from tray.core.identity.config import AwsConfig


class LoginSessions:
    def _load_logins(self, config: AwsConfig | None) -> None:
        """The config's login profiles: a changed or new one gets a fresh record, a gone one its jobs ended."""
        old = self._logins
        self._logins = {}
        for name, profile in (config.logins.items() if config else ()):
            r = old.get(name)
            self._logins[name] = r if r is not None and r.profile == profile else LoginRecord(profile)
        for name, r in old.items():
            if self._logins.get(name) is not r:
                self.scheduler.cancel_where(of_login(name))
                self.backoff.forget(of_login(name))
                if r.signing_in is not None:
                    r.signing_in.set()

    def _read_login(self, r: LoginRecord) -> None:
        """Derive the profile's token from its cache file (the file is the truth)."""
        try:
            r.seen = r.profile.cache_path.read_bytes()
        except OSError:
            r.seen = None
        try:
            token, r.read_problem = login.read_token(r.profile), None
        except NotSignedIn as e:
            token, r.read_problem = None, str(e)
        if _key(token) != _key(r.token):
            # other credentials (signed in, refreshed or signed out here or elsewhere): what was known of the
            # old ones no longer applies
            r.problem, r.error = None, False
            self.backoff.succeeded((LOGIN_RENEW, r.profile.name))
            self._creds.pop(r.profile.name, None)
        r.token = token

    def _check_logins(self) -> bool:
        """Read again each cache file whose bytes changed; True if any did."""
        changed = False
        for r in self._logins.values():
            try:
                current = r.profile.cache_path.read_bytes()
            except OSError:
                current = None
            if current != r.seen:
                self._read_login(r)
                changed = True
        return changed

    def _schedule_login(self, name: str) -> None:
        r = self._logins.get(name)
        if r is None:
            return
        now, sched = self.clock(), self.scheduler
        sched.cancel_where(of_login(name))
        t = r.token
        if t is None:
            return  # signed out: the file watcher notices a sign-in made elsewhere
        if t.expires_at > now:
            sched.schedule((LOGIN_EXPIRE, name), t.expires_at, lambda: self._post(self._on_login_expiry, name))
        if r.renewable() and r.renewing is None:
            # login.renew refreshes inside botocore's window (5 minutes before the end), as the AWS CLI does
            renew_at = max(now, t.expires_at - login.REFRESH_WINDOW)
            sched.schedule((LOGIN_RENEW, name), self.backoff.due((LOGIN_RENEW, name), renew_at),
                           lambda: self._post(self._renew_login, name))
        if t.expires_at <= now:
            return
        if r.warned_for != t.expires_at:
            r.warned, r.warned_for = set(), t.expires_at
        if not r.renewable() or r.error:
            warn_at = next_warning_time(t.expires_at, self.settings.warn_minutes, now, r.warned)
            if warn_at is not None:
                sched.schedule((LOGIN_WARN, name), warn_at, lambda: self._post(self._on_login_warning, name))

    def _on_login_expiry(self, name: str) -> None:
        r = self._logins.get(name)
        if r is not None:
            self._read_login(r)
            self._schedule_login(name)
            self._schedule_tick()

    def _on_login_warning(self, name: str) -> None:
        r = self._logins.get(name)
        if r is None or r.token is None:
            return
        now, t = self.clock(), r.token
        if t.expires_at > now and r.warned_for == t.expires_at:
            minutes = due_warning(t.expires_at, self.settings.warn_minutes, now, r.warned)
            if minutes is not None:
                self._warn_login(name, f"AWS login {name} expires in {describe_left(t.expires_at - now)}", t.expires_at)
        self._schedule_login(name)

    def _warn_login(self, name: str, title: str, ends: datetime) -> None:
        if self.settings.notifications:
            self.notifier.notify(
                title,
                f"Sign in again to keep the credentials of profile {name} working after {clock_time(ends)}.",
                {"sign-in": "Sign in again"},
                lambda _action, n=name: self.sign_in(n),
            )

    def _passed_warnings(self, r: LoginRecord) -> bool:
        """Count the warnings whose time has passed as given; True if the credentials in hand are still valid."""
        now, t = self.clock(), r.token
        if t is None or t.expires_at <= now:
            return False
        if r.warned_for != t.expires_at:
            r.warned, r.warned_for = set(), t.expires_at
        due_warning(t.expires_at, self.settings.warn_minutes, now, r.warned)
        return True

    def _renew_login(self, name: str):
        r = self._logins.get(name)
        if r is None or r.renewing is not None:
            return r and r.renewing  # one renewal at a time: the one running goes on
        if not r.renewable():
            self._schedule_login(name)
            return None
        profile, tried = r.profile, r.token
        self.scheduler.cancel((LOGIN_RENEW, name))

        def renewed(_token, error) -> None:
            r = self._logins.get(name)
            if r is None or r.profile != profile:
                return
            r.renewing = None
            self._read_login(r)
            if isinstance(error, NotSignedIn):  # the sign-in has ended: the credentials in hand are the last
                if _key(r.token) == _key(tried):
                    r.refused = _key(tried)
                    if self._passed_warnings(r):
                        self._warn_login(name, f"AWS login {name} can no longer be renewed", r.token.expires_at)
                r.problem, r.error = f"cannot renew: {error}", False
            elif error is not None:
                r.problem, r.error = f"cannot renew: {describe_error(error)}", True
                # tried again with backoff: only the warnings still ahead (2 minutes before, by default) are
                # given, not those the 5-minute renewal window already passed
                self._passed_warnings(r)
                self.backoff.failed((LOGIN_RENEW, name))
            else:
                r.problem, r.error = None, False
                self.backoff.succeeded((LOGIN_RENEW, name))
            self._schedule_login(name)
            self._schedule_tick()

        clock = self.clock
        r.renewing = self._work(lambda: login.renew(profile, clock()), renewed)
        return r.renewing

    # --- sign-in and sign-out (SignIns hands a login profile's name here) -------------------------

    def _sign_in_login(self, name: str):
        r = self._logins[name]
        if r.signing_in is not None:
            return r.sign_in_done  # one sign-in per profile: the one running goes on
        cancel = threading.Event()
        r.signing_in, r.problem = cancel, None
        profile, clock = r.profile, self.clock

        def work():
            # the same-device flow (the browser on this machine), as `aws login` does by default
            return login.sign_in(profile, login.LoginOptions(cancel=cancel, clock=clock))

        def signed_in(_result, error) -> None:
            r = self._logins.get(name)
            if r is None or r.signing_in is not cancel:
                return
            r.signing_in = r.sign_in_done = None
            self._read_login(r)
            self._schedule_login(name)
            self._schedule_tick()
            if error is not None and cancel.is_set():
                self._tell(f"The sign-in for {name} was cancelled.")
                return
            if error is not None:
                r.problem = describe_error(error)
                raise error
            r.error, r.refused = False, None
            self._tell(f"Signed in for profile {name}.")

        r.sign_in_done = self._work(work, signed_in, own_thread=True)
        return r.sign_in_done

    def _sign_out_login(self, name: str):
        r = self._logins[name]
        profile = r.profile
        if r.signing_in is not None:
            r.signing_in.set()

        def signed_out(_removed, error) -> None:
            r = self._logins.get(name)
            if r is not None:
                self._read_login(r)
                self._creds.pop(name, None)
                self._schedule_login(name)
                self._schedule_tick()
            if error is not None:
                raise error
            self._tell(f"Signed out of profile {name}.")

        return self._work(lambda: login.logout(profile), signed_out)


def _key(token: login.LoginToken | None) -> str | None:
    """Which credentials a token holds (their access key id, which is no secret)."""
    return token.body["accessToken"]["accessKeyId"] if token is not None else None

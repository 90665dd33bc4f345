"""Signing in to a session and out of it, from the menu (the browser's device authorization) or a
notification's "Sign in again".

A part of the Engine (it is mixed into the class): these methods run on the engine thread; the sign-in
itself waits for the browser on a worker and comes back as an event.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

from tray.core.engine.loop import describe_error


class SignIns:
    def sign_in(self, name: str) -> Future:
        return self._post(self._sign_in, name)

    def _sign_in(self, name: str):
        from tray.core.identity.signin import SignInOptions, login

        if name not in self._sessions and name in self._logins:
            return self._sign_in_login(name)  # an `aws login` profile (an SSO session of that name comes first)
        s = self._session(name)
        if s.signing_in is not None:
            return s.sign_in_done  # one sign-in per session: the one running goes on
        cancel = threading.Event()
        s.signing_in, s.problem = cancel, None
        session, clock = s.session, self.clock

        def work():
            started = clock()
            token = login(session, SignInOptions(prompt=lambda m: None, cancel=cancel, clock=clock))
            return token.expires_at - started

        # on a thread of its own: it waits for the browser, and renewals and copies must not wait for it
        s.sign_in_done = self._work(work, lambda lifetime, error: self._signed_in(name, cancel, lifetime, error), own_thread=True)
        return s.sign_in_done

    def _signed_in(self, name: str, cancel: threading.Event, lifetime, error) -> None:
        s = self._sessions.get(name)
        if s is None or s.signing_in is not cancel:
            return
        s.signing_in = s.sign_in_done = None
        self._read_token(s)
        self._schedule_session(name)
        self._schedule_tick()
        if error is not None and cancel.is_set():  # the person's own Cancel: no problem, no notification
            self._tell(f"The sign-in to {name} was cancelled.")
            return
        if error is not None:
            s.problem = describe_error(error)
            raise error
        s.lifetime, s.error, s.refused = lifetime, False, None
        self._tell(f"Signed in to {name}.")

    def cancel_sign_in(self, name: str) -> None:
        def cancel():
            s = self._sessions.get(name) or self._logins.get(name)
            if s is not None and s.signing_in is not None:
                s.signing_in.set()
        self._post(cancel)

    def sign_out(self, name: str) -> Future:
        return self._post(self._sign_out, name)

    def _sign_out(self, name: str) -> Future:
        from tray.core.identity.signin import logout

        if name not in self._sessions and name in self._logins:
            return self._sign_out_login(name)
        s = self._session(name)
        session = s.session
        if s.signing_in is not None:  # a sign-in under way holds the token file's lock: it ends first
            s.signing_in.set()

        def signed_out(_result, error):
            s = self._sessions.get(name)
            if s is not None:
                self._read_token(s)
                for profile in self._profiles_of(name):
                    self._creds.pop(profile, None)
                self._schedule_session(name)
                self._schedule_tick()
            if error is not None:
                raise error
            self._tell(f"Signed out of {name}.")

        return self._work(lambda: logout(session), signed_out)

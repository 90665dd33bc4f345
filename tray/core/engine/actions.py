"""What the person does with a role's credentials from the menu: copy export lines (static, or pointing at the
tray's credentials endpoint), write them to the credentials file, open the console, keep a profile fresh
(pinned), mark favourites, change settings; and the credentials the tray's endpoint hands to terminals.

A part of the Engine (it is mixed into the class): every method here runs on the engine thread and uses
the engine's records; the AWS call and the file or clipboard write run on a worker.
"""

from __future__ import annotations

from concurrent.futures import Future
from datetime import datetime, timedelta
from typing import Callable

from tray.core.credentials import RoleCredentials
from tray.core.engine.record import PIN, file_signature
from tray.core.engine.state import clock_time
from tray.core.engine.view import default_format
from tray.core.errors import NotSignedIn, TrayError
from tray.core.files.settings import settings_path
from tray.core.identity import login, rolecreds
from tray.core.identity.config import LoginProfile
from tray.core.identity.profiles import RoleProfile
from tray.core.identity.sessions import VALID as STATUS_VALID

PIN_MARGIN = timedelta(minutes=20)  # rewrite pinned credentials this long before they expire
# Role credentials may live shorter than that margin: then they are rewritten at half their life, and
# never sooner than this after the last write, so short-lived ones cannot make a loop of AWS calls.
PIN_EVERY_AT_MOST = timedelta(minutes=2)
RECENT_MAX = 5


class CredentialActions:
    def _with_credentials(self, profile: str, margin: timedelta, use: Callable[[RoleProfile, RoleCredentials], str],
                          on_error: Callable[[BaseException], None] | None = None, on_done: Callable[[], None] | None = None,
                          toast: str | None = None) -> Future:
        """Credentials for `profile` good for more than `margin` (memory, the disk cache or AWS), handed
        to `use` on a worker; `use` returns the message to show, and `toast` is said at the moment.
        `on_error` takes a failure instead of the usual message and notification."""
        p = self._roles.get(profile) or self._login_profile(profile)
        if p is None:
            raise TrayError(f"{profile} is no longer among the profiles")
        held = self._creds.get(profile)
        clock = self.clock

        def work():
            creds = held
            if isinstance(p, LoginProfile):  # the cached ones, or refreshed inside botocore's window
                creds = login.credentials(p, clock())
            elif creds is None or not rolecreds.fresh_enough(creds, clock(), margin):
                creds = rolecreds.get(p.session, p.account_id, p.role_name, clock(), margin)
            return creds, use(p, creds)

        def then(outcome, error):
            if error is not None and on_error is not None:
                return on_error(error)
            if error is not None:
                raise error
            creds, message = outcome
            self._creds[profile] = creds
            self._remember(profile)
            self._tell(message)
            if toast is not None:
                self._toast(toast)
            if on_done is not None:
                on_done()

        return self._work(work, then)

    def _remember(self, profile: str) -> None:
        self.settings.recent = ([profile] + [r for r in self.settings.recent if r != profile])[:RECENT_MAX]
        if self.settings_problem is None:  # a malformed settings file is replaced only when the person says so
            self._save_settings()

    def copy_export(self, profile: str, fmt: str | None = None) -> Future:
        return self._post(self._copy_export, profile, fmt)

    def _copy_export(self, profile: str, fmt: str | None):
        from tray.core.outlets.exports import format_credentials

        fmt = fmt or self.settings.default_format or default_format()
        clear_after = self.settings.clear_clipboard_after or None

        def copy(p, creds):
            self._copy(format_credentials(creds, fmt, p.region), clear_after)
            return f"Copied {fmt} export lines for {profile} (valid until {clock_time(creds.expiration)})."

        return self._with_credentials(profile, rolecreds.REUSE_MARGIN, copy, toast=self._copied(profile, fmt, clear_after))

    def _copied(self, profile: str, fmt: str, clear_after: float | None) -> str:
        """The toast of a copy: which role, which shell, and when the clipboard forgets it."""
        text = f"Copied {self._role_label(profile)} ({fmt})"
        return text + (f" — clipboard clears in {clear_after:g} s" if clear_after else "")

    def _role_label(self, profile: str) -> str:
        p = self._roles.get(profile)
        return f"{p.account_name or p.account_id} / {p.role_name}" if p is not None else profile

    def copy_refreshing(self, profile: str, issue: Callable[[str], dict], fmt: str | None = None) -> Future:
        """"Copy as auto-refreshing": lines that point a shell at the tray's credentials endpoint, whose
        variables `issue(profile)` gives, once the session has given the profile credentials."""
        return self._post(self._copy_refreshing, profile, issue, fmt)

    def _copy_refreshing(self, profile: str, issue: Callable[[str], dict], fmt: str | None):
        from tray.core.outlets.exports import format_refreshing

        fmt = fmt or self.settings.default_format or default_format()
        clear_after = self.settings.clear_clipboard_after or None

        def copy(p, _creds):
            self._copy(format_refreshing(issue(profile), fmt, p.region), clear_after)
            return f"Copied auto-refreshing {fmt} lines for {profile} (fresh credentials while the tray runs)."

        return self._with_credentials(profile, rolecreds.REUSE_MARGIN, copy, toast=self._copied(profile, fmt, clear_after))

    def role_credentials(self, profile: str) -> Future:
        """For the tray's credentials endpoint: `profile`'s credentials good for more than 15 minutes (memory,
        the disk cache or AWS), or the TrayError why not (the session ended: "sign in again"). A failure is
        the asking SDK's to show, so it is not told in the menu."""
        return self._post(self._role_credentials, profile)

    def _login_profile(self, profile: str) -> LoginProfile | None:
        """An `aws login` profile of that name, unless a role profile has it (botocore's chain takes SSO first)."""
        r = self._logins.get(profile)
        return r.profile if r is not None and profile not in self._roles else None

    def _role_credentials(self, profile: str):
        lp = self._login_profile(profile)
        if lp is not None:  # its 15-minute credentials, whatever they have left: an SDK refreshes them in time
            clock = self.clock
            return self._work(lambda: login.credentials(lp, clock()), lambda creds, error: creds if error is None else error)
        p = self._roles.get(profile)
        if p is None:
            return TrayError(f"{profile} is no longer among the tray's profiles")
        name, now = p.session.name, self.clock()
        s = self._sessions.get(name)
        if s is None or s.status(now) != STATUS_VALID:
            return NotSignedIn(f"the SSO session {name} has ended: sign in again (the tray's menu, or `sso-tray login --sso-session {name}`)")
        held = self._creds.get(profile)
        if held is not None and rolecreds.fresh_enough(held, now):
            return held

        def keep(creds, error):
            if error is None:
                self._creds[profile] = creds
            return creds if error is None else error  # an error returned, not raised: settles the future alone

        clock = self.clock
        return self._work(lambda: rolecreds.get(p.session, p.account_id, p.role_name, clock()), keep)

    def write_credentials(self, profile: str) -> Future:
        return self._post(self._write_credentials, profile)

    def _write_credentials(self, profile: str, margin: timedelta = rolecreds.REUSE_MARGIN, **hooks):
        from tray.core.files.credfile import credential_values, write_profile
        from tray.core.files.paths import credentials_file

        def write(p, creds):
            write_profile(credentials_file(), profile, credential_values(creds, p.region))
            return f"Wrote [{profile}] to {credentials_file()} (valid until {clock_time(creds.expiration)})."

        hooks.setdefault("toast", f"Wrote {self._role_label(profile)} to [{profile}]")
        return self._with_credentials(profile, margin, write, **hooks)

    def open_console(self, profile: str) -> Future:
        return self._post(self._open_console, profile)

    def _open_console(self, profile: str):
        def open_it(p, creds):
            from tray.core.outlets import console

            console.open_url(console.console_url(p, creds))
            return f"Opened the AWS console as {profile}."

        return self._with_credentials(profile, rolecreds.REUSE_MARGIN, open_it)

    def _write_pinned(self, profile: str):
        p = self._roles.get(profile)
        if p is None or profile not in self.settings.pinned:
            return None
        name = p.session.name

        key = (PIN, name, profile)

        def failed(error: BaseException) -> None:
            if not isinstance(error, TrayError):
                raise error
            # tried again with backoff, and said once, not at every try
            if self.backoff.failed(key) == 1:
                title = f"{profile} can no longer be kept fresh"
                if self.settings.notifications:
                    self.notifier.notify(title, str(error), {"sign-in": "Sign in again"}, lambda _a: self.sign_in(name))
                self._tell(f"{title}: {error}", failed=True)
            self._schedule_session(name)

        def written() -> None:
            self.backoff.succeeded(key)
            self._pin_written[profile] = self.clock()
            self._schedule_session(name)

        # fresh credentials, not ones that are about to reach this same deadline again
        return self._write_credentials(profile, PIN_MARGIN + timedelta(minutes=1), on_error=failed, on_done=written, toast=None)

    def _pin_due(self, profile: str, now: datetime) -> datetime:
        """When the pinned profile is next rewritten: PIN_MARGIN before its credentials expire, at half
        their life when they live shorter, and never twice within PIN_EVERY_AT_MOST."""
        creds = self._creds.get(profile)
        if creds is None:
            return now
        written = self._pin_written.get(profile, now)
        life = max(creds.expiration - written, timedelta(0))  # none, when this clock runs ahead of AWS's
        return max(now, creds.expiration - PIN_MARGIN, written + max(life / 2, PIN_EVERY_AT_MOST))

    def toggle_pinned(self, profile: str) -> Future:
        def toggle():
            pinned = self.settings.pinned
            if profile in pinned:
                pinned.remove(profile)
                self._save_settings()
                return None
            pinned.append(profile)
            self._save_settings()
            return self._write_pinned(profile)
        return self._post(toggle)

    def toggle_favourite(self, profile: str) -> Future:
        def toggle():
            favs = self.settings.favourites
            favs.remove(profile) if profile in favs else favs.append(profile)
            self._save_settings()
        return self._post(toggle)

    def update_settings(self, **changes) -> Future:
        def update():
            for key, value in changes.items():
                setattr(self.settings, key, value)
            self._save_settings()
            self._reschedule_all()
        return self._post(update)

    def _save_settings(self) -> None:
        """The person changed a setting: save (a malformed file is kept beside it, by Settings.save)."""
        kept = self.settings.save()
        if kept is not None:
            self._tell(f"The settings file could not be read; it was kept as {kept}.")
        self.settings_problem = None
        self._files["settings"] = file_signature(settings_path())
